package backends

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// ErrExists matches (errors.Is) the error for a new file whose path is
// taken.
var ErrExists = errors.New("file exists")

// CheckNewFile says whether a new file can be created at path: nothing is
// there yet (a regular file is never written over, a FIFO or device is not
// a file). It does not create anything.
func CheckNewFile(path string) error {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fileErr(path, err)
	case !st.Mode().IsRegular():
		return notRegular(path, st.Mode())
	}
	return &FileError{Path: path, Msg: quotePath(path) + " already exists (it is never written over: choose another path)", Err: ErrExists}
}

// CreateNewFile creates a regular file at path, which must not exist (an
// existing file, a symbolic link, a FIFO or a device there is refused; the
// check and the creation are one system call, O_EXCL), for writing.
func CreateNewFile(path string, perm fs.FileMode) (*os.File, error) {
	if err := CheckNewFile(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, perm)
	if errors.Is(err, fs.ErrExist) {
		return nil, CheckNewFile(path) // created in between: say what is there
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &FileError{Path: path, Msg: "cannot create " + quotePath(path) + ": " + SafeText(err.Error()), Err: err}
	}
	return f, nil
}
