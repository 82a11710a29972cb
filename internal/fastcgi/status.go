package fastcgi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// PoolStatus is php-fpm's pool status page as JSON (pm.status_path?json;
// sapi/fpm/fpm/fpm_status.c). Field names follow the JSON keys.
type PoolStatus struct {
	Pool           string `json:"pool"`
	ProcessManager string `json:"process manager"`
	// StartTime is when the pool started, in Unix seconds.
	StartTime int64 `json:"start time"`
	// StartSince is seconds since the pool started.
	StartSince int64 `json:"start since"`
	// AcceptedConn counts requests accepted by the pool.
	AcceptedConn int64 `json:"accepted conn"`
	// ListenQueue is connections waiting in the backlog now.
	ListenQueue int64 `json:"listen queue"`
	// MaxListenQueue is the largest ListenQueue seen since start.
	MaxListenQueue int64 `json:"max listen queue"`
	// ListenQueueLen is the size of the backlog.
	ListenQueueLen     int64 `json:"listen queue len"`
	IdleProcesses      int64 `json:"idle processes"`
	ActiveProcesses    int64 `json:"active processes"`
	TotalProcesses     int64 `json:"total processes"`
	MaxActiveProcesses int64 `json:"max active processes"`
	// MaxChildrenReached counts the times pm.max_children was reached.
	MaxChildrenReached int64 `json:"max children reached"`
	// SlowRequests counts requests that exceeded request_slowlog_timeout.
	SlowRequests int64 `json:"slow requests"`
}

// ParsePoolStatus parses the body of pm.status_path?json. The per-process
// list that "&full" adds is ignored.
func ParsePoolStatus(body []byte) (*PoolStatus, error) {
	var s PoolStatus
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("cannot parse php-fpm status: %w", err)
	}
	if s.Pool == "" {
		return nil, errors.New("cannot parse php-fpm status: no pool name")
	}
	return &s, nil
}

// GetPoolStatus asks the pool at address for its status page at path
// (pm.status_path) as JSON.
func GetPoolStatus(ctx context.Context, address, path string) (*PoolStatus, error) {
	resp, err := Do(ctx, address, StatusParams(path, "json"), nil)
	if err != nil {
		return nil, err
	}
	if resp.Status != 200 {
		return nil, fmt.Errorf("cannot get php-fpm status from %s%s: status %d", address, path, resp.Status)
	}
	return ParsePoolStatus(resp.Body)
}
