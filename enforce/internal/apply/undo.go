package apply

import "errors"

// Undo records how to reverse the steps of one Apply.
type Undo []func() error

// Push records how to reverse the step just taken.
func (u *Undo) Push(f func() error) { *u = append(*u, f) }

// Run undoes in reverse order and returns every failure.
func (u Undo) Run() error {
	var errs []error
	for i := len(u) - 1; i >= 0; i-- {
		if err := u[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
