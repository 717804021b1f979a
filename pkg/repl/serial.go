package repl

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// ErrPortNotFound means the serial port does not exist.
var ErrPortNotFound = errors.New("serial port not found")

// ErrPortBusy means another program holds the serial port.
var ErrPortBusy = errors.New("serial port is busy")

// OpenSerial opens a serial port at baud, 8N1, with DTR and RTS released.
// ESP8266 and ESP32 boards wire DTR and RTS to the reset and boot pins, so a
// pulse on them restarts the board; holding both released leaves it running.
// Ports without modem lines (USB CDC devices, pseudo-terminals) are opened
// without setting them.
func OpenSerial(name string, baud int) (serial.Port, error) {
	lock, err := lockPort(name)
	if err != nil {
		return nil, err
	}
	port, err := openSerial(name, baud)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return &lockedPort{Port: port, lock: lock}, nil
}

// lockedPort is a serial port that holds an advisory lock on its device
// until it is closed.
type lockedPort struct {
	serial.Port
	lock *os.File
}

// Close closes the port and releases the lock. A close that hangs, as a
// blocked read on some drivers can make it, is given up after 2 s.
func (p *lockedPort) Close() error {
	done := make(chan error, 1)
	go func() { done <- p.Port.Close() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Second):
		err = errors.New("closing the serial port timed out")
	}
	p.lock.Close()
	return err
}

// lockPort takes an exclusive flock on the device, which two otaflash runs
// respect even as root, where the TIOCEXCL exclusive mode that
// go.bug.st/serial sets does not stop a second open.
func lockPort(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, classifyOpenError(name, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by another otaflash run", ErrPortBusy, name)
		}
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	return f, nil
}

func openSerial(name string, baud int) (serial.Port, error) {
	mode := &serial.Mode{
		BaudRate:          baud,
		DataBits:          8,
		Parity:            serial.NoParity,
		StopBits:          serial.OneStopBit,
		InitialStatusBits: &serial.ModemOutputBits{DTR: false, RTS: false},
	}
	port, err := serial.Open(name, mode)
	var perr *serial.PortError
	if err != nil && errors.As(err, &perr) && perr.Code() == serial.InvalidSerialPort &&
		strings.Contains(perr.Error(), "modem bits") {
		mode.InitialStatusBits = nil
		port, err = serial.Open(name, mode)
	}
	if err != nil {
		return nil, classifyOpenError(name, err)
	}
	// Output the board sent while no program had the port open is stale.
	if err := port.ResetInputBuffer(); err != nil {
		port.Close()
		return nil, fmt.Errorf("clearing the input buffer of %s: %w", name, err)
	}
	return port, nil
}

func classifyOpenError(name string, err error) error {
	var perr *serial.PortError
	if errors.As(err, &perr) {
		switch perr.Code() {
		case serial.PortNotFound:
			return fmt.Errorf("%w: %s (list ports with `ls /dev/ttyUSB* /dev/ttyACM*`, or pass --port)", ErrPortNotFound, name)
		case serial.PortBusy:
			return fmt.Errorf("%w: %s is held by another program (close any serial monitor, mpremote or screen session on it)", ErrPortBusy, name)
		case serial.PermissionDenied:
			return fmt.Errorf("opening %s: permission denied (add your user to the dialout group, or run with access to the device)", name)
		}
	}
	if _, statErr := os.Stat(name); errors.Is(statErr, os.ErrNotExist) {
		return fmt.Errorf("%w: %s (list ports with `ls /dev/ttyUSB* /dev/ttyACM*`, or pass --port)", ErrPortNotFound, name)
	}
	if errors.As(err, &perr) && perr.Code() == serial.InvalidSerialPort {
		return fmt.Errorf("%s is not a serial port (%v): pass the board's port, such as /dev/ttyUSB0", name, err)
	}
	return fmt.Errorf("opening %s: %w", name, err)
}
