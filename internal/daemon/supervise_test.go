package daemon

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// journal records what fake components did, in order.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, s)
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

// fake is a component that notes its recovery, its start and its stop;
// it fails to recover with recoverErr, and its Run returns runErr once
// fail is closed (or nil once its context ends).
type fake struct {
	name       string
	j          *journal
	recoverErr error
	runErr     error
	fail       chan struct{}
	started    chan struct{}
}

func newFake(name string, j *journal) *fake {
	return &fake{name: name, j: j, started: make(chan struct{})}
}

func (f *fake) Recover(context.Context) error {
	f.j.add("recover " + f.name)
	return f.recoverErr
}

func (f *fake) Run(ctx context.Context) error {
	if ctx.Err() == nil {
		close(f.started)
	}
	select {
	case <-f.fail: // already failed: that comes first
		f.j.add("fail " + f.name)
		return f.runErr
	default:
	}
	select {
	case <-ctx.Done():
		f.j.add("stop " + f.name)
		return nil
	case <-f.fail:
		f.j.add("fail " + f.name)
		return f.runErr
	}
}

func waitStarted(t *testing.T, fs ...*fake) {
	t.Helper()
	for _, f := range fs {
		select {
		case <-f.started:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s never ran", f.name)
		}
	}
}

func TestSupervisorStartsInOrderStopsInReverse(t *testing.T) {
	var j journal
	a, b, c := newFake("a", &j), newFake("b", &j), newFake("c", &j)
	sup := supervisor{a, b, c}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sup.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	waitStarted(t, a, b, c)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil once its context ends", err)
	}
	want := []string{"recover a", "recover b", "recover c", "stop c", "stop b", "stop a"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Fatalf("journal %q, want %q", got, want)
	}
}

func TestSupervisorReturnsAComponentsError(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		runErr  error
		wantErr error
	}{
		{"an error stops the run and is returned", boom, boom},
		{"finished stops the run without an error", errFinished, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var j journal
			a, b, c := newFake("a", &j), newFake("b", &j), newFake("c", &j)
			b.runErr, b.fail = tc.runErr, make(chan struct{})
			sup := supervisor{a, b, c}
			if err := sup.Recover(context.Background()); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- sup.Run(context.Background()) }()
			waitStarted(t, a, b, c)
			close(b.fail)
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("a failed component did not stop the run")
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run = %v, want %v", err, tc.wantErr)
			}
			want := []string{"recover a", "recover b", "recover c", "fail b", "stop c", "stop a"}
			if got := j.get(); !slices.Equal(got, want) {
				t.Fatalf("journal %q, want %q", got, want)
			}
		})
	}
}

func TestSupervisorJoinsTheErrorsOfEveryComponent(t *testing.T) {
	var j journal
	e1, e2 := errors.New("first"), errors.New("second")
	a, b := newFake("a", &j), newFake("b", &j)
	a.runErr, b.runErr = e1, e2
	a.fail, b.fail = make(chan struct{}), make(chan struct{})
	close(a.fail)
	close(b.fail)
	err := supervisor{a, b}.Run(context.Background())
	if !errors.Is(err, e1) || !errors.Is(err, e2) {
		t.Fatalf("Run = %v, want both components' errors", err)
	}
}

func TestSupervisorRecoverFailureStopsTheRecoveredInReverse(t *testing.T) {
	var j journal
	a, b, c, d := newFake("a", &j), newFake("b", &j), newFake("c", &j), newFake("d", &j)
	bad := errors.New("state unreadable")
	c.recoverErr = bad
	err := supervisor{a, b, c, d}.Recover(context.Background())
	if !errors.Is(err, bad) {
		t.Fatalf("Recover = %v, want %v", err, bad)
	}
	want := []string{"recover a", "recover b", "recover c", "stop b", "stop a"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Fatalf("journal %q, want %q: the recovered components let go in reverse, the rest never start", got, want)
	}
}
