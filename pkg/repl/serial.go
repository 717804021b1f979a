package repl

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"go.bug.st/serial"
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
	return fmt.Errorf("opening %s: %w", name, err)
}
