package fastcgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
)

// Record types and constants from the FastCGI 1.0 specification, section 8.
const (
	version1 = 1

	typeBeginRequest = 1
	typeEndRequest   = 3
	typeParams       = 4
	typeStdin        = 5
	typeStdout       = 6
	typeStderr       = 7

	roleResponder = 1

	// requestID is the only request we ever send on a connection.
	requestID = 1

	headerLen = 8
	// maxContent is the largest record body we write: 65535 rounded down to
	// a multiple of 8, so that no record needs padding beyond 8 bytes.
	maxContent = 65528
)

// Protocol statuses of END_REQUEST (spec 5.5).
var protocolStatusText = map[uint8]string{
	1: "cannot multiplex connection",
	2: "overloaded",
	3: "unknown role",
}

// ErrResponseTooLarge is returned when STDOUT and STDERR together exceed
// MaxResponseSize.
var ErrResponseTooLarge = errors.New("fastcgi response too large")

// appendRecord appends one record, padded to a multiple of 8 bytes as the
// specification recommends.
func appendRecord(buf []byte, typ uint8, content []byte) []byte {
	pad := -len(content) & 7
	buf = append(buf, version1, typ, 0, requestID, 0, 0, byte(pad), 0)
	binary.BigEndian.PutUint16(buf[len(buf)-4:], uint16(len(content)))
	buf = append(buf, content...)
	return append(buf, make([]byte, pad)...)
}

// appendStream appends data as records of typ followed by the empty record
// that closes the stream.
func appendStream(buf []byte, typ uint8, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), maxContent)
		buf = appendRecord(buf, typ, data[:n])
		data = data[n:]
	}
	return appendRecord(buf, typ, nil)
}

// appendParams appends params as PARAMS records and the empty record that
// ends them. A name-value pair is never split across records: php-fpm
// (main/fastcgi.c, fcgi_get_params) parses each record on its own.
func appendParams(buf []byte, params map[string]string) ([]byte, error) {
	var content []byte
	for _, name := range slices.Sorted(maps.Keys(params)) {
		pair := appendPair(nil, name, params[name])
		if len(pair) > maxContent {
			return nil, fmt.Errorf("cannot encode fastcgi param %s: %d bytes do not fit a record", name, len(pair))
		}
		if len(content)+len(pair) > maxContent {
			buf = appendRecord(buf, typeParams, content)
			content = content[:0]
		}
		content = append(content, pair...)
	}
	if len(content) > 0 {
		buf = appendRecord(buf, typeParams, content)
	}
	return appendRecord(buf, typeParams, nil), nil
}

// appendPair encodes one name-value pair (spec 3.4): lengths below 128 take
// one byte, longer ones four with the high bit set.
func appendPair(buf []byte, name, value string) []byte {
	buf = appendLength(buf, len(name))
	buf = appendLength(buf, len(value))
	buf = append(buf, name...)
	return append(buf, value...)
}

func appendLength(buf []byte, n int) []byte {
	if n < 128 {
		return append(buf, byte(n))
	}
	return binary.BigEndian.AppendUint32(buf, uint32(n)|1<<31)
}

// encodeRequest builds the whole request: BEGIN_REQUEST (responder, no
// keep-alive, so php-fpm closes the connection when done), PARAMS, STDIN.
func encodeRequest(params map[string]string, stdin []byte) ([]byte, error) {
	buf := appendRecord(nil, typeBeginRequest, []byte{0, roleResponder, 0, 0, 0, 0, 0, 0})
	buf, err := appendParams(buf, params)
	if err != nil {
		return nil, err
	}
	return appendStream(buf, typeStdin, stdin), nil
}

// readResponse reads records until END_REQUEST and parses the CGI response
// in STDOUT. STDOUT and STDERR together may hold at most limit bytes.
func readResponse(r io.Reader, limit int) (*Response, error) {
	br := bufio.NewReader(r)
	var stdout, stderr []byte
	var hdr [headerLen]byte
	var content []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("connection closed before end of fastcgi request")
			}
			return nil, err
		}
		if hdr[0] != version1 {
			return nil, fmt.Errorf("bad fastcgi record version %d (not a fastcgi server?)", hdr[0])
		}
		typ := hdr[1]
		if id := binary.BigEndian.Uint16(hdr[2:4]); id != requestID {
			return nil, fmt.Errorf("unexpected fastcgi request id %d in record type %d", id, typ)
		}
		n := int(binary.BigEndian.Uint16(hdr[4:6]))
		if len(stdout)+len(stderr)+n > limit {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
		}
		content = slices.Grow(content[:0], n+int(hdr[6]))[:n+int(hdr[6])]
		if _, err := io.ReadFull(br, content); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errors.New("connection closed inside a fastcgi record")
			}
			return nil, err
		}
		content = content[:n]
		switch typ {
		case typeStdout:
			stdout = append(stdout, content...)
		case typeStderr:
			stderr = append(stderr, content...)
		case typeEndRequest:
			return endRequest(content, stdout, stderr)
		default:
			return nil, fmt.Errorf("unexpected fastcgi record type %d", typ)
		}
	}
}

// endRequest checks the END_REQUEST body (spec 5.5) and builds the Response.
func endRequest(body, stdout, stderr []byte) (*Response, error) {
	if len(body) < 8 {
		return nil, fmt.Errorf("short fastcgi end request record: %d bytes", len(body))
	}
	if ps := body[4]; ps != 0 {
		text, ok := protocolStatusText[ps]
		if !ok {
			text = fmt.Sprintf("protocol status %d", ps)
		}
		return nil, fmt.Errorf("fastcgi request rejected: %s", text)
	}
	resp, err := parseCGI(stdout)
	if err != nil {
		return nil, err
	}
	resp.Stderr = stderr
	resp.AppStatus = binary.BigEndian.Uint32(body[:4])
	return resp, nil
}
