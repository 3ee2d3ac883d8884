package pdfcheck

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The page counter reads a PDF the way a viewer does, forward through
// small buffers, and keeps only the few values it asks for: a dictionary
// or an array is visited, never held, so a Kids array of 200,000 pages
// costs no more memory than one of three.

// Token kinds.
const (
	tEOF       = iota
	tInt       // n
	tReal      // a number with a fraction (never needed, only skipped)
	tName      // s, without the slash
	tKeyword   // s: obj, endobj, R, stream, xref, trailer, true, null, ...
	tString    // (…) or <…>, contents not kept
	tArrOpen   // [
	tArrClose  // ]
	tDictOpen  // <<
	tDictClose // >>
)

type token struct {
	kind int
	n    int64
	s    string
}

// maxWord bounds the names, keywords and numbers kept; longer ones are
// damage, not PDF.
const maxWord = 256

// errSyntax marks a file the counter cannot read.
var errSyntax = errors.New("PDF syntax error")

func syntaxf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errSyntax}, args...)...)
}

// lexer reads tokens from a forward-only source, counting the bytes read
// so that positions can be told.
type lexer struct {
	r     *bufio.Reader
	pos   int64 // position of the next byte, relative to where r began
	back  []token
	word  []byte
	names map[string]string
}

func newLexer(r io.Reader, bufSize int) *lexer {
	return &lexer{r: bufio.NewReaderSize(r, bufSize), word: make([]byte, 0, 32), names: map[string]string{}}
}

func (l *lexer) readByte() (byte, error) {
	c, err := l.r.ReadByte()
	if err == nil {
		l.pos++
	}
	return c, err
}

func (l *lexer) unreadByte() {
	_ = l.r.UnreadByte()
	l.pos--
}

func (l *lexer) discard(n int64) error {
	for n > 0 {
		k := int(min(n, 1<<30))
		d, err := l.r.Discard(k)
		l.pos += int64(d)
		n -= int64(d)
		if err != nil {
			return err
		}
	}
	return nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// skipSpace skips white space and comments.
func (l *lexer) skipSpace() error {
	for {
		c, err := l.readByte()
		if err != nil {
			return err
		}
		switch {
		case isSpace(c):
		case c == '%':
			for c != '\n' && c != '\r' {
				if c, err = l.readByte(); err != nil {
					return err
				}
			}
		default:
			l.unreadByte()
			return nil
		}
	}
}

func (l *lexer) unread(t token) { l.back = append(l.back, t) }

func (l *lexer) next() (token, error) {
	if n := len(l.back); n > 0 {
		t := l.back[n-1]
		l.back = l.back[:n-1]
		return t, nil
	}
	if err := l.skipSpace(); err != nil {
		if errors.Is(err, io.EOF) {
			return token{kind: tEOF}, nil
		}
		return token{}, err
	}
	c, err := l.readByte()
	if err != nil {
		return token{}, err
	}
	switch c {
	case '[':
		return token{kind: tArrOpen}, nil
	case ']':
		return token{kind: tArrClose}, nil
	case '(':
		return token{kind: tString}, l.skipLiteral()
	case '<':
		c2, err := l.readByte()
		if err != nil {
			return token{}, eof(err)
		}
		if c2 == '<' {
			return token{kind: tDictOpen}, nil
		}
		for c2 != '>' {
			if c2, err = l.readByte(); err != nil {
				return token{}, eof(err)
			}
		}
		return token{kind: tString}, nil
	case '>':
		c2, err := l.readByte()
		if err != nil || c2 != '>' {
			return token{}, syntaxf("stray '>' at byte %d", l.pos)
		}
		return token{kind: tDictClose}, nil
	case '/':
		w, err := l.readWord()
		return token{kind: tName, s: l.intern(w)}, err
	case ')', '{', '}':
		return token{}, syntaxf("unexpected %q at byte %d", c, l.pos)
	}
	l.unreadByte()
	w, err := l.readWord()
	if err != nil {
		return token{}, err
	}
	if c == '+' || c == '-' || c == '.' || c >= '0' && c <= '9' {
		if n, ok := parseInt(w); ok {
			return token{kind: tInt, n: n}, nil
		}
		if _, err := strconv.ParseFloat(string(w), 64); err == nil {
			return token{kind: tReal}, nil
		}
	}
	return token{kind: tKeyword, s: l.intern(w)}, nil
}

// parseInt reads a decimal integer without allocating.
func parseInt(w []byte) (int64, bool) {
	neg := false
	if len(w) > 0 && (w[0] == '+' || w[0] == '-') {
		neg = w[0] == '-'
		w = w[1:]
	}
	if len(w) == 0 || len(w) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range w {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// maxInterned bounds the distinct names and keywords kept for reuse.
const maxInterned = 512

// intern returns w as a string, shared by every token that spells it (a
// page tree repeats the same dozen names for every page).
func (l *lexer) intern(w []byte) string {
	if s, ok := l.names[string(w)]; ok {
		return s
	}
	s := string(w)
	if len(l.names) < maxInterned {
		l.names[s] = s
	}
	return s
}

// eof turns the end of the input inside a token into a syntax error.
func eof(err error) error {
	if errors.Is(err, io.EOF) {
		return syntaxf("unexpected end of data")
	}
	return err
}

func (l *lexer) readWord() ([]byte, error) {
	l.word = l.word[:0]
	for {
		c, err := l.readByte()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if isSpace(c) || isDelim(c) {
			l.unreadByte()
			break
		}
		if len(l.word) == maxWord {
			return nil, syntaxf("a name or keyword longer than %d bytes at byte %d", maxWord, l.pos)
		}
		l.word = append(l.word, c)
	}
	return l.word, nil
}

// skipLiteral skips a (string), its nested parentheses and escapes.
func (l *lexer) skipLiteral() error {
	depth := 1
	for depth > 0 {
		c, err := l.readByte()
		if err != nil {
			return eof(err)
		}
		switch c {
		case '\\':
			if _, err := l.readByte(); err != nil {
				return eof(err)
			}
		case '(':
			depth++
		case ')':
			depth--
		}
	}
	return nil
}

// ref is an indirect reference "num gen R".
type ref struct{ num, gen int64 }

// value is one parsed object: only scalars are kept; arrays and
// dictionaries are visited (or skipped) by the caller.
type value struct {
	kind  int // a token kind; tArrOpen / tDictOpen when a container was skipped
	n     int64
	s     string
	ref   ref
	isRef bool
}

// maxNesting bounds nested arrays and dictionaries.
const maxNesting = 64

// parseValue reads one object; containers are skipped.
func (l *lexer) parseValue() (value, error) {
	t, err := l.next()
	if err != nil {
		return value{}, err
	}
	return l.valueFrom(t)
}

func (l *lexer) valueFrom(t token) (value, error) {
	switch t.kind {
	case tEOF:
		return value{}, syntaxf("unexpected end of data")
	case tArrOpen, tDictOpen:
		return value{kind: t.kind}, l.skipContainer(t.kind)
	case tArrClose, tDictClose:
		return value{}, syntaxf("unbalanced %s at byte %d", map[int]string{tArrClose: "]", tDictClose: ">>"}[t.kind], l.pos)
	case tInt:
		// "n g R" is a reference: look two tokens ahead.
		t2, err := l.next()
		if err != nil {
			return value{}, err
		}
		if t2.kind == tInt {
			t3, err := l.next()
			if err != nil {
				return value{}, err
			}
			if t3.kind == tKeyword && t3.s == "R" {
				return value{kind: tInt, isRef: true, ref: ref{t.n, t2.n}}, nil
			}
			l.unread(t3)
		}
		l.unread(t2)
		return value{kind: tInt, n: t.n}, nil
	}
	return value{kind: t.kind, n: t.n, s: t.s}, nil
}

// skipContainer skips the rest of an array or dictionary whose opening
// token was just read.
func (l *lexer) skipContainer(open int) error {
	stack := []int{open}
	for len(stack) > 0 {
		t, err := l.next()
		if err != nil {
			return err
		}
		switch t.kind {
		case tEOF:
			return syntaxf("unexpected end of data in an array or dictionary")
		case tArrOpen, tDictOpen:
			if len(stack) == maxNesting {
				return syntaxf("arrays or dictionaries nested deeper than %d", maxNesting)
			}
			stack = append(stack, t.kind)
		case tArrClose, tDictClose:
			want := tArrClose
			if stack[len(stack)-1] == tDictOpen {
				want = tDictClose
			}
			if t.kind != want {
				return syntaxf("unbalanced brackets at byte %d", l.pos)
			}
			stack = stack[:len(stack)-1]
		}
	}
	return nil
}

// dict visits a dictionary whose "<<" was just read: fn is called with
// each key and either consumes its value (through the lexer) and returns
// true, or returns false and the value is skipped.
func (l *lexer) dict(fn func(key string) (bool, error)) error {
	for {
		t, err := l.next()
		if err != nil {
			return err
		}
		switch t.kind {
		case tDictClose:
			return nil
		case tName:
		default:
			return syntaxf("a dictionary key is not a name at byte %d", l.pos)
		}
		used, err := fn(t.s)
		if err != nil {
			return err
		}
		if !used {
			if _, err := l.parseValue(); err != nil {
				return err
			}
		}
	}
}

// openDict reads "<<" and visits the dictionary.
func (l *lexer) openDict(fn func(key string) (bool, error)) error {
	t, err := l.next()
	if err != nil {
		return err
	}
	if t.kind != tDictOpen {
		return syntaxf("expected a dictionary at byte %d", l.pos)
	}
	return l.dict(fn)
}

// array visits an array: "[" is read here when present; fn gets each
// element's value (containers inside it skipped). A single value where an
// array is expected is visited as an array of one.
func (l *lexer) array(fn func(v value) error) error {
	t, err := l.next()
	if err != nil {
		return err
	}
	if t.kind != tArrOpen {
		v, err := l.valueFrom(t)
		if err != nil {
			return err
		}
		return fn(v)
	}
	for {
		t, err := l.next()
		if err != nil {
			return err
		}
		if t.kind == tArrClose {
			return nil
		}
		v, err := l.valueFrom(t)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}

// intValue reads an integer (a direct one: references are refused).
func (l *lexer) intValue(key string) (int64, error) {
	v, err := l.parseValue()
	if err != nil {
		return 0, err
	}
	if v.kind != tInt || v.isRef {
		return 0, syntaxf("/%s is not an integer", key)
	}
	return v.n, nil
}

// refValue reads an indirect reference.
func (l *lexer) refValue(key string) (ref, error) {
	v, err := l.parseValue()
	if err != nil {
		return ref{}, err
	}
	if !v.isRef {
		return ref{}, syntaxf("/%s is not an indirect reference", key)
	}
	return v.ref, nil
}
