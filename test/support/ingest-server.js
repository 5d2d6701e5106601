// A real HTTP server for upload tests: records every request and answers as each test scripts it (ok, a status, hang, reset).
'use strict';
const http = require('node:http');

/**
 * startIngestServer listens on 127.0.0.1 (a free port) and resolves to
 * { url, requests, script(fn), close() }. Each request is recorded as
 * { method, path, query, headers, body, closed } once its body is read (`closed` resolves when its
 * socket closes); `fn(requestIndex, req)` (or `behaviour`, a function or a fixed answer) returns
 * 'ok' (200), a status number, 'hang' (never answer) or 'reset' (destroy the socket).
 */
async function startIngestServer({ behaviour = 'ok' } = {}) {
  let answerFor = typeof behaviour === 'function' ? behaviour : () => behaviour;
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    const closed = new Promise((resolve) => req.socket.once('close', resolve));
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const index = requests.length;
      const url = new URL(req.url, 'http://127.0.0.1');
      requests.push({
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks),
        closed,
      });
      answer(answerFor(index, req), req, res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    script(fn) {
      answerFor = fn;
    },
    /** close also destroys hung connections, which server.close() alone would wait for. */
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** answer carries out one scripted answer. */
function answer(kind, req, res) {
  if (kind === 'hang') return;
  if (kind === 'reset') {
    req.socket.destroy();
    return;
  }
  const status = kind === 'ok' ? 200 : kind;
  if (typeof status !== 'number') throw new Error(`ingest-server: unknown answer ${String(kind)}`);
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(status >= 200 && status < 300 ? 'ok\n' : `scripted failure ${status}\nsecond line\n`);
}

module.exports = { startIngestServer };
