package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mqops/mqops/backends"
)

// maxSecretSize bounds a password or DSN file: it holds one line.
const maxSecretSize = 64 << 10

// Password reads the SASL password from PasswordEnv or PasswordFile. Errors
// name the variable or the file, never the value.
func (s *SASL) Password() (string, error) {
	if s == nil {
		return "", errors.New("kafka: no sasl settings")
	}
	if s.PasswordEnv == "" && s.PasswordFile == "" {
		return "", errors.New("kafka.sasl: set one of password-env or password-file")
	}
	return readSecret("kafka.sasl", "password", s.PasswordEnv, s.PasswordFile)
}

// Password reads the RabbitMQ password from PasswordEnv or PasswordFile. It
// returns "" and no error when neither is set (e.g. a client certificate
// authenticates). Errors name the variable or the file, never the value.
func (r *RabbitMQ) Password() (string, error) {
	if r == nil || (r.PasswordEnv == "" && r.PasswordFile == "") {
		return "", nil
	}
	return readSecret("rabbitmq", "password", r.PasswordEnv, r.PasswordFile)
}

// DSN reads the database connection string from DSNEnv or DSNFile. Errors
// name the variable or the file, never the value.
func (d *Store) DSN() (string, error) {
	if d == nil {
		return "", errors.New("no store settings")
	}
	if d.DSNEnv == "" && d.DSNFile == "" {
		return "", errors.New("store: set one of dsn-env or dsn-file")
	}
	if normalizeDriver(d.Driver) == "sqlite" {
		// an SQLite DSN is a file's path: not a secret, and redacting it
		// would hide which database the views and audit entries name
		return readValue("store", "dsn", d.DSNEnv, d.DSNFile)
	}
	return readSecret("store", "dsn", d.DSNEnv, d.DSNFile)
}

// readSecret reads a secret from an environment variable or a file; the
// trailing newline of a file is trimmed. With both set (Validate refuses
// that) the variable wins.
func readSecret(where, what, env, file string) (string, error) {
	v, err := readValue(where, what, env, file)
	if err == nil {
		backends.RegisterSecret(v)
	}
	return v, err
}

// readValue reads a setting from an environment variable or a file, as
// readSecret does, without registering it as a secret.
func readValue(where, what, env, file string) (string, error) {
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("%s.%s-env: environment variable %s is not set", where, what, safe(env))
		}
		if v == "" {
			return "", fmt.Errorf("%s.%s-env: environment variable %s is empty", where, what, safe(env))
		}
		return v, nil
	}
	data, err := backends.ReadRegularFile(file, maxSecretSize)
	if errors.Is(err, backends.ErrTooLarge) {
		return "", fmt.Errorf("%s.%s-file: %s is larger than %d KiB; it should hold only the %s", where, what, q(file), maxSecretSize>>10, what)
	}
	if err != nil {
		return "", fmt.Errorf("%s.%s-file: %w", where, what, err)
	}
	v := strings.TrimRight(string(data), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%s.%s-file: %s is empty", where, what, q(file))
	}
	return v, nil
}
