package uploader

// FormAll forms batch intents until the queue is empty (benchmarks).
func (u *Uploader) FormAll() int {
	n := 0
	for {
		if _, ok := u.form(); !ok {
			return n
		}
		n++
	}
}
