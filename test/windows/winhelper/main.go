//go:build windows

// Command winhelper does, under Wine, what another Windows program would do
// to ppsync's files. The Windows tests in test/windows build it with
// GOOS=windows; it is never shipped.
//
//	winhelper hold PATH   open PATH with share mode 0, as Excel does with a
//	                      workbook or a viewer may with a file, print
//	                      "held", and keep it open until a line or the end
//	                      of standard input; then print "released"
package main

import (
	"bufio"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: winhelper hold PATH")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "hold":
		err = hold(os.Args[2])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "winhelper:", err)
		os.Exit(1)
	}
}

func hold(path string) error {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	// Share mode 0: no other open may read, write or delete the file, and a
	// rename over it fails with a sharing violation.
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil,
		windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return fmt.Errorf("open %s without sharing: %w", path, err)
	}
	fmt.Println("held")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	if err := windows.CloseHandle(h); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	fmt.Println("released")
	return nil
}
