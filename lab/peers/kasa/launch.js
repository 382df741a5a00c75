// Runs one TP-Link Kasa device from tplink-smarthome-simulator on a given address and port,
// and reports every relay change on stdout so the Python wrapper (lab.peers.kasa) can run
// the outlet's power hook. Protocol on stdout, one line each:
//   READY <port>
//   STATE <outlet name> ON|OFF
// Outlets are named by their alias: the plug's own alias (HS100/HS110), or one child alias
// per --outlet for a power strip (HS300, children <deviceId>00.. in order).
'use strict';

const { Device } = require('tplink-smarthome-simulator');

function parseArgs(argv) {
  const args = { listen: '127.0.0.1', port: 0, model: 'hs100', deviceId: null, outlets: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--listen') args.listen = value;
    else if (flag === '--port') args.port = Number(value);
    else if (flag === '--model') args.model = value.toLowerCase();
    else if (flag === '--device-id') args.deviceId = value;
    else if (flag === '--outlet') {
      const at = value.lastIndexOf('=');
      args.outlets.push({ name: value.slice(0, at), on: value.slice(at + 1).toUpperCase() === 'ON' });
    } else throw new Error(`unknown option ${flag}`);
  }
  if (args.outlets.length === 0) args.outlets.push({ name: 'plug', on: true });
  return args;
}

// The relays as [name, on] pairs, read straight from the simulated device's data.
function relays(device, isStrip) {
  if (isStrip) {
    return device.children.map((child) => [child.sysinfo.alias, child.sysinfo.state === 1]);
  }
  const { sysinfo } = device.data.system;
  return [[sysinfo.alias, sysinfo.relay_state === 1]];
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const isStrip = args.model === 'hs300';
  const data = { alias: isStrip ? 'Lab Strip' : args.outlets[0].name };
  if (args.deviceId) data.deviceId = args.deviceId;
  const device = new Device({ model: args.model, port: args.port, address: args.listen, data });
  if (isStrip) {
    if (args.outlets.length > device.children.length) {
      throw new Error(`${args.model} has ${device.children.length} outlets`);
    }
    device.children.forEach((child, index) => {
      const outlet = args.outlets[index];
      Object.assign(child.sysinfo, outlet
        ? { alias: outlet.name, state: outlet.on ? 1 : 0 }
        : { alias: `Spare ${index + 1}`, state: 0 });
    });
  } else {
    device.data.system.sysinfo.relay_state = args.outlets[0].on ? 1 : 0;
  }

  let known = new Map(relays(device, isStrip));
  const report = () => {
    const now = new Map(relays(device, isStrip));
    for (const [name, on] of now) {
      if (known.get(name) !== on) process.stdout.write(`STATE ${name} ${on ? 'ON' : 'OFF'}\n`);
    }
    known = now;
  };
  device.deviceNetworking.on('response', report);
  device.deviceNetworking.on('error', (err) => process.stderr.write(`kasa device error: ${err}\n`));

  await device.start();
  process.stdout.write(`READY ${device.port}\n`);

  const stop = () => device.stop().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The wrapper holds our stdin: when it goes away, so do we.
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
