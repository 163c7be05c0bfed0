package backends

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular matches (errors.Is) the error for a path that is not a
// regular file (a FIFO, a device, a socket, a directory).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge matches (errors.Is) the error for a file over its size bound.
var ErrTooLarge = errors.New("file too large")

// FileError is a problem with a file mqops reads or appends to. Its text
// names the file (sanitized) and the problem, never the file's contents.
type FileError struct {
	Path string
	Msg  string
	Err  error
}

func (e *FileError) Error() string { return e.Msg }

func quotePath(p string) string    { return `"` + SafeText(p) + `"` }
func (e *FileError) Unwrap() error { return e.Err }

// kindOf names a non-regular file's type for an operator.
func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

func notRegular(path string, m fs.FileMode) error {
	if m.IsDir() {
		return &FileError{Path: path, Msg: quotePath(path) + " is a directory, not a file", Err: ErrNotRegular}
	}
	return &FileError{Path: path, Msg: quotePath(path) + " is " + kindOf(m) + ", not a regular file", Err: ErrNotRegular}
}

func fileErr(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &FileError{Path: path, Msg: "cannot read " + quotePath(path) + ": " + SafeText(err.Error()), Err: err}
}

// openRegular opens path with flag only when it is a regular file (or, with
// O_CREATE, does not exist yet): it never blocks on a FIFO, because the
// file is checked before and opened non-blocking, and checked again once
// open (a FIFO swapped in between is refused, not waited on).
func openRegular(path string, flag int, perm fs.FileMode) (*os.File, error) {
	st, err := os.Stat(path)
	switch {
	case err == nil:
		if !st.Mode().IsRegular() {
			return nil, notRegular(path, st.Mode())
		}
	case errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0:
	default:
		return nil, fileErr(path, err)
	}
	f, err := os.OpenFile(path, flag|syscall.O_NONBLOCK|syscall.O_CLOEXEC, perm)
	if err != nil {
		return nil, fileErr(path, err)
	}
	st, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, fileErr(path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(path, st.Mode())
	}
	return f, nil
}

// ReadRegularFile reads a whole file of at most max bytes. It refuses
// anything but a regular file (a FIFO would block forever, a device never
// end) and a file over max, with an error that names the file.
func ReadRegularFile(path string, max int64) ([]byte, error) {
	f, err := openRegular(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fileErr(path, err)
	}
	if int64(len(data)) > max {
		return nil, &FileError{Path: path, Msg: fmt.Sprintf("%s is larger than %s", quotePath(path), byteSize(max)), Err: ErrTooLarge}
	}
	return data, nil
}

// OpenRegularFile opens a regular file for reading (see ReadRegularFile);
// the caller bounds what it reads.
func OpenRegularFile(path string) (*os.File, error) {
	return openRegular(path, os.O_RDONLY, 0)
}

// OpenAppend opens (creating it with perm) a regular file to append to.
// A FIFO, device or directory at path is refused.
func OpenAppend(path string, perm fs.FileMode) (*os.File, error) {
	return openRegular(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, perm)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
