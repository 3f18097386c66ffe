'use strict';
/**
 * Preloaded (`node --require`, through NODE_OPTIONS) into every process of the local stack: the
 * stack itself, the firebase-tools emulators and the function workers they spawn. The machines
 * that run it have no network, and any attempt to reach an address outside 127.0.0.0/8 (the
 * cloud metadata server, a telemetry or update check) is flagged. So a connection to anything
 * but loopback is refused before a packet leaves (the caller sees ECONNREFUSED), and recorded,
 * one JSON line per attempt, in the file TOLLGATE_OFF_LOOPBACK_LOG names; the end-to-end run
 * fails if that file is not empty. A hostname other than `localhost` counts as off loopback
 * too: resolving it would already send a DNS query out.
 */
const fs = require('node:fs');
const net = require('node:net');

const GUARDED = Symbol.for('tollgate.loopbackGuard');

function isLoopback(host) {
  if (host === undefined || host === null || host === '') return true; // Node's default: localhost
  const name = String(host)
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  if (name === 'localhost' || name === '::1' || name === '0:0:0:0:0:0:0:1') return true;
  const v4 = name.startsWith('::ffff:') ? name.slice(7) : name;
  return net.isIPv4(v4) && v4.split('.')[0] === '127';
}

/** Where a Socket#connect call is going: a unix socket path, or host and port. */
function destination(args) {
  const [first, second] = args;
  if (Array.isArray(first)) return destination(first); // internal normalized form
  if (first !== null && typeof first === 'object') {
    // A unix socket has a path and no port (http passes `path: null` for TCP connections).
    if (typeof first.path === 'string' && first.path !== '' && first.port == null) {
      return { path: first.path };
    }
    return { host: first.host, port: first.port };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { path: first };
  return { host: typeof second === 'string' ? second : undefined, port: first };
}

/** Who asked, not how Node got there: the first frames outside Node's own modules. */
function caller() {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  const frames = new Error().stack?.split('\n').slice(3) ?? [];
  Error.stackTraceLimit = limit;
  return frames
    .map((line) => line.trim())
    .filter((line) => !/[( ]node:/.test(line))
    .slice(0, 10);
}

function record(entry) {
  const file = process.env.TOLLGATE_OFF_LOOPBACK_LOG;
  const line = `${JSON.stringify({ ...entry, pid: process.pid, argv: process.argv.slice(1, 3) })}\n`;
  try {
    if (file) fs.appendFileSync(file, line);
  } catch {
    // The record is best effort; the refusal is not.
  }
  process.emitWarning(`tollgate: refused a connection off loopback: ${line.trim()}`);
}

function install() {
  if (globalThis[GUARDED]) return;
  globalThis[GUARDED] = true;
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(...args) {
    const to = destination(args);
    if (to.path === undefined && !isLoopback(to.host)) {
      record({ host: String(to.host), port: Number(to.port), stack: caller() });
      const error = Object.assign(
        new Error(`connect ECONNREFUSED ${to.host}:${to.port} (off loopback, refused locally)`),
        { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: String(to.host) },
      );
      process.nextTick(() => this.destroy(error));
      return this;
    }
    return connect.apply(this, args);
  };
  // A lookup of any other name is itself a DNS query leaving the machine.
  const dns = require('node:dns');
  const lookup = dns.lookup;
  dns.lookup = function guardedLookup(hostname, ...rest) {
    const [options, callback] = rest;
    const done = typeof options === 'function' ? options : callback;
    const refused = typeof done === 'function' ? refuseLookup(hostname) : undefined;
    if (refused) {
      process.nextTick(() => done(refused));
      return {};
    }
    return lookup.call(this, hostname, ...rest);
  };
  const promisesLookup = dns.promises.lookup;
  dns.promises.lookup = function guardedPromisesLookup(hostname, ...rest) {
    const refused = refuseLookup(hostname);
    return refused ? Promise.reject(refused) : promisesLookup.call(this, hostname, ...rest);
  };
}

/** The error a lookup of `hostname` fails with (recorded), or undefined when it may go ahead. */
function refuseLookup(hostname) {
  if (isLoopback(hostname) || net.isIP(String(hostname))) return undefined;
  record({ host: String(hostname), lookup: true });
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (refused locally)`), {
    code: 'ENOTFOUND',
    syscall: 'getaddrinfo',
    hostname,
  });
}

install();
module.exports = { isLoopback, destination };
