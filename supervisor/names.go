package supervisor

import (
	"fmt"
	"slices"
	"strings"
)

// Member is a program as `phpinit ctl` names it: by its own name, or by
// its group (the supervisord [group:x] listing it, else the program key its
// copies were made from: "worker" for worker_00..02).
type Member struct {
	Name  string
	Group string
}

// UnknownProgramError is a name that is neither a program, a group nor
// "all". It lists what is known, so a typo is easy to spot.
type UnknownProgramError struct {
	Name     string
	Programs []string
	Groups   []string
}

func (e *UnknownProgramError) Error() string {
	msg := fmt.Sprintf("unknown program %q (programs: %s", e.Name, strings.Join(e.Programs, ", "))
	if len(e.Groups) > 0 {
		msg += "; groups: " + strings.Join(e.Groups, ", ")
	}
	return msg + ")"
}

// Is makes errors.Is(err, ErrUnknownProgram) hold.
func (e *UnknownProgramError) Is(target error) bool { return target == ErrUnknownProgram }

// Select resolves name against members, in members' order: "all" is every
// program, a program's name is that program, a group's name is every
// program of the group. A program's own name wins over a group of the same
// name (a program without copies is its own group). This is the one place
// names given to ctl are resolved: the supervisor's commands, `ctl status
// NAME` and `phpinit exec --program` all use it.
func Select(members []Member, name string) ([]string, error) {
	var names []string
	for _, m := range members {
		if name == "all" || m.Name == name {
			names = append(names, m.Name)
		}
	}
	if len(names) > 0 {
		return names, nil
	}
	for _, m := range members {
		if m.Group == name {
			names = append(names, m.Name)
		}
	}
	if len(names) > 0 {
		return names, nil
	}
	e := &UnknownProgramError{Name: name}
	for _, m := range members {
		e.Programs = append(e.Programs, m.Name)
		if m.Group != "" && m.Group != m.Name && !slices.Contains(e.Groups, m.Group) {
			e.Groups = append(e.Groups, m.Group)
		}
	}
	slices.Sort(e.Programs)
	slices.Sort(e.Groups)
	return nil, e
}

// members lists the programs for Select, in start order.
func (s *Supervisor) members() []Member {
	ms := make([]Member, 0, len(s.order))
	for _, n := range s.order {
		ms = append(ms, Member{Name: n, Group: s.progs[n].spec.Group})
	}
	return ms
}

// Select resolves name (a program, a group or "all") to the programs'
// statuses, like the supervisor's commands do.
func (sn *Snapshot) Select(name string) ([]ProgramStatus, error) {
	ms := make([]Member, 0, len(sn.Programs))
	for _, p := range sn.Programs {
		ms = append(ms, Member{Name: p.Name, Group: p.Group})
	}
	names, err := Select(ms, name)
	if err != nil {
		return nil, err
	}
	out := make([]ProgramStatus, 0, len(names))
	for _, n := range names {
		p, _ := sn.Program(n)
		out = append(out, p)
	}
	return out, nil
}
