package uploader

// FormAll forms batch intents until the queue is empty (benchmarks). Each
// batch is closed as soon as it is formed, as if it had been sent, so the
// bound on batches formed ahead of the senders does not stop it.
func (u *Uploader) FormAll() int {
	n := 0
	for {
		b, ok := u.form()
		if !ok {
			return n
		}
		u.end(b, (*credits).release)
		n++
	}
}
