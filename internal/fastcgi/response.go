package fastcgi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// parseCGI splits a CGI response (RFC 3875 section 6) into status, headers
// and body. Header lines end in "\r\n" or "\n"; an empty line ends them.
func parseCGI(stdout []byte) (*Response, error) {
	if len(stdout) == 0 {
		return nil, errors.New("empty fastcgi response")
	}
	header := make(http.Header)
	rest := stdout
	for {
		line, after, found := bytes.Cut(rest, []byte("\n"))
		if !found {
			return nil, errors.New("malformed cgi response: no end of headers")
		}
		rest = after
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) {
			return nil, fmt.Errorf("malformed cgi header line %q", truncate(line, 64))
		}
		header.Add(string(name), string(bytes.Trim(value, " \t")))
	}
	status, err := cgiStatus(header)
	if err != nil {
		return nil, err
	}
	header.Del("Status")
	return &Response{Status: status, Header: header, Body: rest}, nil
}

func cgiStatus(header http.Header) (int, error) {
	s := header.Get("Status")
	if s == "" {
		if header.Get("Location") != "" {
			return http.StatusFound, nil
		}
		return http.StatusOK, nil
	}
	code, _, _ := bytes.Cut([]byte(s), []byte(" "))
	n, err := strconv.Atoi(string(code))
	if err != nil || len(code) != 3 || n < 100 {
		return 0, fmt.Errorf("malformed cgi status %q", truncate([]byte(s), 64))
	}
	return n, nil
}

// isToken reports whether b is an HTTP field name (RFC 9110 5.1).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		isAlnum := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !isAlnum && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) < 0 {
			return false
		}
	}
	return true
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
