package loadgen

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
)

// WriteCorpus writes n pre-signed requests split over files <prefix>.0 … <prefix>.<split-1>, for
// an external load tool (wrk with scripts/wrk-corpus.lua) that replays them without signing
// anything itself. Each entry is "<length>\n" followed by the raw HTTP/1.1 request. Every request
// carries a distinct event, so the stream must end up holding one message per 2xx.
func WriteCorpus(prefix string, split, n int, host string, s Scenario) error {
	if split < 1 {
		split = 1
	}
	for part := range split {
		if err := writeCorpusPart(fmt.Sprintf("%s.%d", prefix, part), part, split, n/split, host, &s); err != nil {
			return err
		}
	}
	return nil
}

func writeCorpusPart(path string, part, split, n int, host string, s *Scenario) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create corpus: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close corpus: %w", cerr)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	gen := newGenerator(s, part)
	var buf []byte
	for range n {
		r := gen.next(split)
		buf = buf[:0]
		buf = append(buf, "POST "...)
		buf = append(buf, r.Path...)
		buf = append(buf, " HTTP/1.1\r\nHost: "...)
		buf = append(buf, host...)
		buf = append(buf, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(r.Body)), 10)
		buf = append(buf, "\r\n"...)
		for _, h := range r.Headers {
			buf = append(buf, h[0]...)
			buf = append(buf, ": "...)
			buf = append(buf, h[1]...)
			buf = append(buf, "\r\n"...)
		}
		buf = append(buf, "\r\n"...)
		buf = append(buf, r.Body...)
		if _, err := fmt.Fprintf(w, "%d\n", len(buf)); err != nil {
			return fmt.Errorf("write corpus: %w", err)
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write corpus: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write corpus: %w", err)
	}
	return nil
}
