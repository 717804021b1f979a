package simboard

// recentCommandsLen is how many command events Stats keeps.
const recentCommandsLen = 32

// Stats is a snapshot of the board's counters since Start.
type Stats struct {
	// HostToBoard counts the bytes the host sent that crossed the wire,
	// including those dropped by line faults or lost while the board was off.
	HostToBoard int64
	// BoardToHost counts the bytes the board sent that crossed the wire,
	// including those dropped by line faults.
	BoardToHost int64
	// LineDropped counts bytes lost on the wire in either direction.
	LineDropped int64
	// LineCorrupted counts bytes with a flipped bit in either direction.
	LineCorrupted int64
	// LostPoweredOff counts host bytes that reached the board while it was off.
	LostPoweredOff int64
	// Overrun counts bytes the board dropped because its UART receive
	// buffer was full.
	Overrun int64
	// Boots counts boot events: power-on boots and soft resets.
	Boots int
	// PowerCuts counts the times the board lost power.
	PowerCuts int
	// Firmware is the version the board reported at its last boot.
	Firmware string
	// Commands counts the REPL commands the board executed.
	Commands int
	// LargestCommand is the size in bytes of the largest command source.
	LargestCommand int
	// MaxMemAlloc is the largest gc.mem_alloc() after a command, in bytes.
	MaxMemAlloc int
	// MemoryErrors counts commands that ended in MemoryError.
	MemoryErrors int
	// RecentCommands lists the last 32 commands, oldest first.
	RecentCommands []Command
}

// Command describes one REPL command the board executed.
type Command struct {
	// Kind is "raw", "paste" (raw-paste mode) or "friendly".
	Kind string
	// Bytes is the size of the command source.
	Bytes int
	// MemAlloc is gc.mem_alloc() right after the command, in bytes.
	MemAlloc int
	// MemFree is the modelled free heap right after the command, in bytes.
	MemFree int
	// Error is "MemoryError" when the command ran out of memory, else empty.
	Error string
}

// event is a JSON event from the board; only the fields of its kind are set.
type event struct {
	Ev       string `json:"ev"`
	Boots    int    `json:"boots"`
	Firmware string `json:"firmware"`
	On       bool   `json:"on"`
	Reason   string `json:"reason"`
	Kind     string `json:"kind"`
	Bytes    int    `json:"bytes"`
	MemAlloc int    `json:"mem_alloc"`
	MemFree  int    `json:"mem_free"`
	Error    string `json:"error"`
	Dropped  int64  `json:"dropped"`
	Op       string `json:"op"`
	Path     string `json:"path"`
	Message  string `json:"message"`
}

// addCommand counts a command event.
func (s *Stats) addCommand(ev event) {
	c := Command{Kind: ev.Kind, Bytes: ev.Bytes, MemAlloc: ev.MemAlloc, MemFree: ev.MemFree, Error: ev.Error}
	s.Commands++
	s.LargestCommand = max(s.LargestCommand, c.Bytes)
	s.MaxMemAlloc = max(s.MaxMemAlloc, c.MemAlloc)
	if c.Error == "MemoryError" {
		s.MemoryErrors++
	}
	if len(s.RecentCommands) == recentCommandsLen {
		s.RecentCommands = append(s.RecentCommands[:0], s.RecentCommands[1:]...)
	}
	s.RecentCommands = append(s.RecentCommands, c)
}

// clone returns a copy that shares no memory with s.
func (s Stats) clone() Stats {
	s.RecentCommands = append([]Command(nil), s.RecentCommands...)
	return s
}
