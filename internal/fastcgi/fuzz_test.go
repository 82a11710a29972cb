package fastcgi

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadResponse feeds arbitrary bytes to the record reader and the CGI
// parser: they must never panic, and what they accept must be sane.
func FuzzReadResponse(f *testing.F) {
	// Raw responses captured from php-fpm 8.2: ping, status, 404.
	files, err := filepath.Glob("testdata/php-fpm/*.bin")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	stdout := func(s string) []byte { return appendRecord(nil, typeStdout, []byte(s)) }
	f.Add(append(stdout("Status: 404 Not Found\n\nx"), endRecord(0, 0)...))
	f.Add(append(append(appendRecord(nil, typeStderr, []byte("oops")), stdout("A: b\r\n\r\n")...), endRecord(1, 0)...))
	f.Add(endRecord(0, 3))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	f.Add([]byte{1, typeStdout, 0, 1, 0xff, 0xff, 0xff, 0})

	const limit = 1 << 12
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := readResponse(bytes.NewReader(data), limit)
		if err != nil {
			return
		}
		if resp.Status < 100 || resp.Status > 999 {
			t.Errorf("status %d", resp.Status)
		}
		if len(resp.Body)+len(resp.Stderr) > limit {
			t.Errorf("body %d + stderr %d bytes over the limit", len(resp.Body), len(resp.Stderr))
		}
		if resp.Header.Get("Status") != "" {
			t.Error("Status left in Header")
		}
	})
}
