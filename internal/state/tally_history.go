package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The "history" bucket keeps what the status page and /metrics show of
// the past, so that a restart or a reload does not wipe it: documents,
// pages, credits and failures per hour over the last HistoryHours hours and
// per day over the last HistoryDays days, the latest HistoryLatencies
// drop-to-result latencies, the last successful poll and the credit
// balance samples of the burn rate.
//
// The counts are written by the transitions that already record the events
// (putFile for results and failures, putDoc for the charge of a submitted
// document), in the same transaction: no extra write per document. Old
// hours and days are pruned as new ones begin, so the bucket stays a few
// kilobytes. The bucket is created by the first write that needs it: a
// store written by an older build simply has no history yet.
//
// Keys: "h" and the hour's Unix time / 3600 (8 bytes, big-endian), "d" and
// the local date (2006-01-02): 32-byte values, four big-endian counts.
// "l" and a 2-byte slot: a latency in nanoseconds; "n": the next latency
// slot. "p": the last poll (Unix nanoseconds). "c": the credit samples,
// 16 bytes each (Unix nanoseconds, balance).
var bucketHistory = []byte("history")

const (
	// HistoryHours is how many hours of hourly counts are kept.
	HistoryHours = 24
	// HistoryDays is how many days of daily totals are kept.
	HistoryDays = 90
	// HistoryLatencies is how many of the latest latencies are kept.
	HistoryLatencies = 1024
)

var (
	histHour     = []byte("h")
	histDay      = []byte("d")
	histLatency  = []byte("l")
	histNext     = []byte("n")
	histLastPoll = []byte("p")
	histCredits  = []byte("c")
)

// Counts are the events of one hour or one day.
type Counts struct {
	// Documents counts the results written (each file with its own result).
	Documents int64 `json:"documents"`
	// Pages is the pages of those results.
	Pages int64 `json:"pages"`
	// Credits is what the submissions of the period were charged.
	Credits int64 `json:"credits"`
	// Failures counts the files that ended with an error file.
	Failures int64 `json:"failures"`
}

func (c Counts) add(d Counts) Counts {
	return Counts{c.Documents + d.Documents, c.Pages + d.Pages, c.Credits + d.Credits, c.Failures + d.Failures}
}

func (c Counts) bytes() []byte {
	v := make([]byte, 32)
	for i, n := range []int64{c.Documents, c.Pages, c.Credits, c.Failures} {
		binary.BigEndian.PutUint64(v[i*8:], uint64(n))
	}
	return v
}

func countsOf(key, v []byte) (Counts, error) {
	if v == nil {
		return Counts{}, nil
	}
	if len(v) != 32 {
		return Counts{}, fmt.Errorf("state history %q holds %d bytes, not 32: run 'ppsync state check'", key, len(v))
	}
	n := func(i int) int64 { return int64(binary.BigEndian.Uint64(v[i*8:])) }
	return Counts{n(0), n(1), n(2), n(3)}, nil
}

// HourCounts are the counts of the hour that begins at Start.
type HourCounts struct {
	Start time.Time
	Counts
}

// DayCounts are the counts of one local date.
type DayCounts struct {
	Date string // 2006-01-02, the daemon's local time
	Counts
}

// CreditSample is a credit balance seen at a moment.
type CreditSample struct {
	At      time.Time
	Balance int
}

// History is everything the history bucket keeps.
type History struct {
	// Hours are the hours with events among the last HistoryHours, oldest first.
	Hours []HourCounts
	// Days are the days with events among the last HistoryDays, oldest first.
	Days []DayCounts
	// Latencies are the latest drop-to-result latencies, in no order.
	Latencies []time.Duration
	// LastPoll is the last successful poll recorded (zero when none).
	LastPoll time.Time
	// Credits are the balance samples last recorded, oldest first.
	Credits []CreditSample
}

func hourKey(at time.Time) []byte {
	k := make([]byte, 9)
	k[0] = histHour[0]
	binary.BigEndian.PutUint64(k[1:], uint64(at.Unix()/3600)^(1<<63))
	return k
}

func hourOfKey(k []byte) time.Time {
	return time.Unix(int64(binary.BigEndian.Uint64(k[1:])^(1<<63))*3600, 0)
}

func dayKey(at time.Time) []byte { return append([]byte("d"), at.Local().Format(time.DateOnly)...) }

// eventTime is when an event recorded at t happened (now when unset).
func eventTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func historyBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	if !tx.Writable() {
		return tx.Bucket(bucketHistory), nil
	}
	return tx.CreateBucketIfNotExists(bucketHistory)
}

// count adds c to the hour and the day of at, pruning the hours and days
// that fell out of the kept window.
func countEvent(tx *bolt.Tx, at time.Time, c Counts) error {
	b, err := historyBucket(tx)
	if err != nil {
		return err
	}
	if err := addPeriod(b, histHour, hourKey(at), hourKey(at.Add(-(HistoryHours-1)*time.Hour)), c); err != nil {
		return err
	}
	day := at.Local()
	first := time.Date(day.Year(), day.Month(), day.Day()-(HistoryDays-1), 12, 0, 0, 0, time.Local)
	return addPeriod(b, histDay, dayKey(at), dayKey(first), c)
}

// addPeriod adds c to the period at key (of the kind prefix). When key
// starts a new period, the periods before the oldest kept, oldest, of the
// newest period stored go; an event older than that is not counted.
func addPeriod(b *bolt.Bucket, prefix, key, oldest []byte, c Counts) error {
	v := b.Get(key)
	if v == nil {
		cur := b.Cursor()
		// The newest period stored: the last key of the prefix.
		last, _ := cur.Seek([]byte{prefix[0] + 1})
		if last == nil {
			last, _ = cur.Last()
		} else {
			last, _ = cur.Prev()
		}
		if last != nil && bytes.HasPrefix(last, prefix) && bytes.Compare(key, last) < 0 {
			// Older than the newest period: prune from the newest one.
			if olderThanKept(b, prefix, key, last) {
				return nil
			}
		}
		if err := prunePeriods(b, prefix, oldest); err != nil {
			return err
		}
	}
	n, err := countsOf(key, v)
	if err != nil {
		return err
	}
	return b.Put(key, n.add(c).bytes())
}

// olderThanKept reports that key falls before the window that ends with
// the period newest (a clock set back, or a record of long ago).
func olderThanKept(b *bolt.Bucket, prefix, key, newest []byte) bool {
	var oldest []byte
	if prefix[0] == histHour[0] {
		oldest = hourKey(hourOfKey(newest).Add(-(HistoryHours - 1) * time.Hour))
	} else {
		d, err := time.ParseInLocation(time.DateOnly, string(newest[1:]), time.Local)
		if err != nil {
			return false
		}
		oldest = dayKey(time.Date(d.Year(), d.Month(), d.Day()-(HistoryDays-1), 12, 0, 0, 0, time.Local))
	}
	return bytes.Compare(key, oldest) < 0
}

// prunePeriods deletes the periods of prefix before oldest.
func prunePeriods(b *bolt.Bucket, prefix, oldest []byte) error {
	var gone [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, oldest) < 0; k, _ = c.Next() {
		gone = append(gone, bytes.Clone(k))
	}
	for _, k := range gone {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// recordLatency keeps d among the latest HistoryLatencies latencies.
func recordLatency(tx *bolt.Tx, d time.Duration) error {
	b, err := historyBucket(tx)
	if err != nil {
		return err
	}
	var next uint64
	if v := b.Get(histNext); len(v) == 8 {
		next = binary.BigEndian.Uint64(v)
	}
	k := []byte{histLatency[0], 0, 0}
	binary.BigEndian.PutUint16(k[1:], uint16(next%HistoryLatencies))
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(max(d, 0)))
	if err := b.Put(k, v); err != nil {
		return err
	}
	n := make([]byte, 8)
	binary.BigEndian.PutUint64(n, next+1)
	return b.Put(histNext, n)
}

// historyOfFile records what the change of a file record from old (its
// state, "" when there was none) to f tells: a result written (a document,
// its pages and its latency) or an error file (a failure). Records written
// without passing through the pipeline (a rebuild, a result recognised on
// disk) count nothing.
func historyOfFile(tx *bolt.Tx, old FileState, f File) error {
	switch {
	case f.State == FileDone && (old == FileQueued || old == FileDuplicate):
		at := eventTime(f.Updated)
		if err := countEvent(tx, at, Counts{Documents: 1, Pages: int64(f.Pages)}); err != nil {
			return err
		}
		if f.FirstSeen.IsZero() {
			return nil
		}
		return recordLatency(tx, at.Sub(f.FirstSeen))
	case f.State == FileFailed && (old == FileQueued || old == FileDuplicate),
		f.State == FileInvalid && old != FileInvalid:
		return countEvent(tx, eventTime(f.Updated), Counts{Failures: 1})
	}
	return nil
}

// historyOfDoc records the charge of a document that is submitted now and
// was not before (its state in the open index).
func historyOfDoc(tx *bolt.Tx, d Doc) error {
	if d.State != DocSubmitted || d.Pages <= 0 {
		return nil
	}
	if DocState(tx.Bucket(bucketOpen).Get([]byte(prefixDoc+d.Key))) == DocSubmitted {
		return nil
	}
	at := d.SubmittedAt
	if at.IsZero() {
		at = d.Updated
	}
	return countEvent(tx, eventTime(at), Counts{Credits: int64(d.Pages)})
}

// PutLastPoll records the time of the last successful poll.
func (t *Tx) PutLastPoll(at time.Time) error {
	b, err := historyBucket(t.tx)
	if err != nil {
		return err
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(at.UnixNano()))
	return b.Put(histLastPoll, v)
}

// PutCreditSamples replaces the stored credit balance samples.
func (t *Tx) PutCreditSamples(samples []CreditSample) error {
	b, err := historyBucket(t.tx)
	if err != nil {
		return err
	}
	v := make([]byte, 0, 16*len(samples))
	for _, s := range samples {
		v = binary.BigEndian.AppendUint64(v, uint64(s.At.UnixNano()))
		v = binary.BigEndian.AppendUint64(v, uint64(int64(s.Balance)))
	}
	return b.Put(histCredits, v)
}

// History returns what the history bucket keeps: the hours among the
// HistoryHours up to now's, and every day kept.
func (t *Tx) History(now time.Time) (History, error) {
	var h History
	b := t.tx.Bucket(bucketHistory)
	if b == nil {
		return h, nil
	}
	from := hourKey(now.Add(-(HistoryHours - 1) * time.Hour))
	to := hourKey(now)
	c := b.Cursor()
	for k, v := c.Seek(from); k != nil && bytes.Compare(k, to) <= 0; k, v = c.Next() {
		n, err := countsOf(k, v)
		if err != nil {
			return h, err
		}
		h.Hours = append(h.Hours, HourCounts{Start: hourOfKey(k), Counts: n})
	}
	days, err := t.HistoryDays(now, HistoryDays)
	if err != nil {
		return h, err
	}
	h.Days = days
	for k, v := c.Seek(histLatency); len(k) == 3 && k[0] == histLatency[0]; k, v = c.Next() {
		if len(v) == 8 {
			h.Latencies = append(h.Latencies, time.Duration(binary.BigEndian.Uint64(v)))
		}
	}
	if v := b.Get(histLastPoll); len(v) == 8 {
		h.LastPoll = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	}
	v := b.Get(histCredits)
	for i := 0; i+16 <= len(v); i += 16 {
		h.Credits = append(h.Credits, CreditSample{At: time.Unix(0, int64(binary.BigEndian.Uint64(v[i:]))),
			Balance: int(int64(binary.BigEndian.Uint64(v[i+8:])))})
	}
	return h, nil
}

// HistoryDays returns the days with events among the n days up to now's
// (today included), oldest first.
func (t *Tx) HistoryDays(now time.Time, n int) ([]DayCounts, error) {
	b := t.tx.Bucket(bucketHistory)
	if b == nil || n <= 0 {
		return nil, nil
	}
	day := now.Local()
	from := dayKey(time.Date(day.Year(), day.Month(), day.Day()-(n-1), 12, 0, 0, 0, time.Local))
	to := dayKey(now)
	var days []DayCounts
	c := b.Cursor()
	for k, v := c.Seek(from); k != nil && bytes.HasPrefix(k, histDay) && bytes.Compare(k, to) <= 0; k, v = c.Next() {
		cnt, err := countsOf(k, v)
		if err != nil {
			return nil, err
		}
		days = append(days, DayCounts{Date: string(k[1:]), Counts: cnt})
	}
	return days, nil
}
