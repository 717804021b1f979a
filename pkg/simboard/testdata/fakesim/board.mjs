// A loopback stand-in for sim/board.mjs, used by the framing and pacing tests
// of package simboard. It speaks the same frame protocol: it echoes every
// UART byte it receives while powered, reports boot and power events, and
// turns a received line "!ev {json}" into that event.
import process from 'node:process';

const args = process.argv.slice(2);
const firmware = args[args.indexOf('--firmware') + 1] ?? '1.27';
process.stderr.write(`fake board args: ${args.join(' ')}\n`);

let powered = false;
let boots = 0;
let line = '';
let received = 0;

function send(type, payload) {
  const header = Buffer.alloc(5);
  header[0] = type.charCodeAt(0);
  header.writeUInt32LE(payload.length, 1);
  process.stdout.write(Buffer.concat([header, payload]));
}

function sendEvent(ev) {
  send('E', Buffer.from(JSON.stringify(ev)));
}

function boot() {
  powered = true;
  boots++;
  sendEvent({ ev: 'boot', boots, firmware });
}

function receiveUART(data) {
  if (!powered) return;
  received += data.length;
  send('U', data);
  for (const byte of data) {
    if (byte !== 0x0a) {
      line += String.fromCharCode(byte);
      continue;
    }
    if (line.startsWith('!ev ')) sendEvent(JSON.parse(line.slice(4)));
    line = '';
  }
}

function receiveControl(msg) {
  process.stderr.write(`control ${JSON.stringify(msg)}\n`);
  if (msg.op === 'power' && msg.on === false && powered) {
    powered = false;
    line = '';
    process.stderr.write(`received ${received} bytes before power off\n`);
    received = 0;
    sendEvent({ ev: 'power', on: false, reason: 'host' });
  } else if (msg.op === 'power' && msg.on === true && !powered) {
    boot();
  } else if (msg.op === 'stats') {
    sendEvent({ ev: 'stats', boots });
  }
}

let pending = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= 5) {
    const size = pending.readUInt32LE(1);
    if (pending.length < 5 + size) break;
    const type = String.fromCharCode(pending[0]);
    const payload = pending.subarray(5, 5 + size);
    pending = pending.subarray(5 + size);
    if (type === 'U') receiveUART(Buffer.from(payload));
    else if (type === 'C') receiveControl(JSON.parse(payload.toString('utf8')));
  }
});
process.stdin.on('end', () => process.exit(0));

boot();
