package logsink

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkSink measures lines/s through a sink into /dev/null: pipe, reader,
// queue, writer and formatting, with 100-byte lines written 1000 to a
// write(2). lines/s counts lines written, not dropped ones.
func BenchmarkSink(b *testing.B) {
	for _, mode := range []string{"prefix", "json"} {
		b.Run(mode, func(b *testing.B) { benchmarkSink(b, mode) })
	}
}

func benchmarkSink(b *testing.B, mode string) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	h := NewHub(devNull, devNull, nil)
	s, err := h.Open(Spec{Program: "nginx", Stream: "stdout", Mode: mode})
	if err != nil {
		b.Fatal(err)
	}
	const perWrite, lineLen = 1000, 100
	chunk := bytes.Repeat(append(bytes.Repeat([]byte("x"), lineLen-1), '\n'), perWrite)
	b.SetBytes(lineLen)
	b.ResetTimer()
	for left := b.N; left > 0; left -= perWrite {
		if _, err := s.File().Write(chunk[:min(left, perWrite)*lineLen]); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(testTimeout); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	dropped := h.Dropped()[0].Lines
	b.ReportMetric(float64(uint64(b.N)-dropped)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(dropped), "dropped")
}
