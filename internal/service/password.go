package service

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// ReadPassword asks for the service account's password: on a console
// without echo, otherwise as the first line of in (so a script can pipe
// it). It is never taken from the command line, where other users and
// the process list would see it.
func ReadPassword(in *os.File, prompt io.Writer, account string) (string, error) {
	var pw string
	if term.IsTerminal(int(in.Fd())) {
		fmt.Fprintf(prompt, "Password of %s (not shown): ", account)
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read the password of %s from the console: %w", account, err)
		}
		pw = string(b)
	} else {
		var err error
		if pw, err = readLine(in); err != nil {
			return "", fmt.Errorf("read the password of %s from standard input: %w", account, err)
		}
	}
	if pw == "" {
		return "", fmt.Errorf("no password given for %s: type it at the prompt or pipe it on standard input "+
			"(a managed service account DOMAIN\\name$ or the virtual account NT SERVICE\\%s needs none)", account, Name)
	}
	return pw, nil
}

func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
