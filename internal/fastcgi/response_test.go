package fastcgi

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseCGI(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		status int
		header http.Header
		body   string
	}{
		{"php-fpm ping", "Content-type: text/plain;charset=UTF-8\r\nExpires: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\npong",
			200, http.Header{"Content-Type": {"text/plain;charset=UTF-8"}, "Expires": {"Thu, 01 Jan 1970 00:00:00 GMT"}}, "pong"},
		{"status with reason", "Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nFile not found.\n",
			404, http.Header{"Content-Type": {"text/html"}}, "File not found.\n"},
		{"bare status", "Status: 503\n\n", 503, http.Header{}, ""},
		{"lf only", "A: 1\nB:2\n\nbody\r\n\r\nmore", 200, http.Header{"A": {"1"}, "B": {"2"}}, "body\r\n\r\nmore"},
		{"mixed endings", "A: 1\n\r\nbody", 200, http.Header{"A": {"1"}}, "body"},
		{"repeated header", "Set-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n", 200, http.Header{"Set-Cookie": {"a=1", "b=2"}}, ""},
		{"location", "Location: /x\r\n\r\n", 302, http.Header{"Location": {"/x"}}, ""},
		{"location with status", "Status: 301\r\nLocation: /x\r\n\r\n", 301, http.Header{"Location": {"/x"}}, ""},
		{"no headers", "\r\nbody", 200, http.Header{}, "body"},
		{"empty value", "X-Empty:\r\n\r\n", 200, http.Header{"X-Empty": {""}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := parseCGI([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status || !reflect.DeepEqual(resp.Header, tt.header) || string(resp.Body) != tt.body {
				t.Errorf("got %d %v %q, want %d %v %q", resp.Status, resp.Header, resp.Body, tt.status, tt.header, tt.body)
			}
		})
	}
}

func TestParseCGIErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"pong", "no end of headers"},
		{"Content-Type: text/plain\r\n", "no end of headers"},
		{"no colon here\r\n\r\n", "malformed cgi header line"},
		{": empty name\r\n\r\n", "malformed cgi header line"},
		{"Bad Name: x\r\n\r\n", "malformed cgi header line"},
		{" folded: x\r\n\r\n", "malformed cgi header line"},
		{"HTTP/1.1 200 OK\r\n\r\n", "malformed cgi header line"},
		{"Status: OK\r\n\r\n", "malformed cgi status"},
		{"Status: 99\r\n\r\n", "malformed cgi status"},
		{"Status: 2000\r\n\r\n", "malformed cgi status"},
		{"Status: +20\r\n\r\n", "malformed cgi status"},
		{"Status: -200\r\n\r\n", "malformed cgi status"},
	}
	for _, tt := range tests {
		_, err := parseCGI([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseCGI(%q) err = %v, want %q", tt.in, err, tt.want)
		}
	}
}
