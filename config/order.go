package config

import (
	"bytes"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Order lists the program names in start order: every program after the
// programs it depends on, ties broken by priority, then name. Stop in reverse. It is only
// meaningful for a config that Load returned without cycle errors; programs
// on a cycle come last, by name.
func (c *Config) Order() []string {
	names := sortedKeys(c.Programs)
	slices.SortStableFunc(names, func(a, b string) int { return c.Programs[a].Priority - c.Programs[b].Priority })
	done := make(map[string]bool, len(names))
	order := make([]string, 0, len(names))
	for len(order) < len(names) {
		// Take the first name, by name, whose dependencies are all placed;
		// rescanning from the start after each pick keeps ties by name.
		next := ""
		for _, n := range names {
			if !done[n] && c.depsPlaced(n, done) {
				next = n
				break
			}
		}
		if next == "" {
			for _, n := range names {
				if !done[n] {
					order, done[n] = append(order, n), true
				}
			}
			break
		}
		order, done[next] = append(order, next), true
	}
	return order
}

// depsPlaced ignores dependencies that are not programs; Load reports them.
func (c *Config) depsPlaced(name string, done map[string]bool) bool {
	for _, d := range c.Programs[name].DependsOn {
		if d != name && c.Programs[d] != nil && !done[d] {
			return false
		}
	}
	return true
}

// cycles finds dependency cycles by depth-first search, at least one per
// tangle. Each is rotated to start at its smallest name and reported once.
func cycles(progs map[string]*Program) [][]string {
	const (
		unseen = iota
		onPath
		finished
	)
	state := map[string]int{}
	seen := map[string]bool{}
	var path []string
	var found [][]string
	var visit func(n string)
	visit = func(n string) {
		state[n] = onPath
		path = append(path, n)
		for _, d := range progs[n].DependsOn {
			if d == n || progs[d] == nil {
				continue
			}
			switch state[d] {
			case unseen:
				visit(d)
			case onPath:
				cycle := slices.Clone(path[slices.Index(path, d):])
				least := slices.Index(cycle, slices.Min(cycle))
				cycle = append(slices.Clone(cycle[least:]), cycle[:least]...)
				if k := fmt.Sprint(cycle); !seen[k] {
					seen[k] = true
					found = append(found, cycle)
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = finished
	}
	for _, n := range sortedKeys(progs) {
		if state[n] == unseen {
			visit(n)
		}
	}
	return found
}

// YAML renders the effective config for `phpinit check --print`: durations
// as "9s", signals as "QUIT", sizes as "10MiB". Loading the output gives
// the same Config.
func (c *Config) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("cannot encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("cannot encode config: %w", err)
	}
	return b.Bytes(), nil
}
