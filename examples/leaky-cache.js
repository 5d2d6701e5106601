// A small service with a classic JS leak: a response cache whose expiry check never fires, beside healthy churn.
'use strict';

const TTL_MS = 50;
const cache = new Map();

// The leak: entries store `expires` as a string ("1732168000050ms"), so
// `Date.now() > entry.expires` compares a number with NaN and is never true: nothing expires.
function cacheResponse(key, body) {
  cache.set(key, { body, expires: `${Date.now() + TTL_MS}ms` });
}

function evictExpired() {
  for (const [key, entry] of cache) {
    if (Date.now() > entry.expires) cache.delete(key);
  }
}

function renderRows(id, count) {
  const rows = [];
  for (let i = 0; i < count; i++) rows.push({ id, i, text: `row ${i} of request ${id}` });
  return JSON.stringify(rows);
}

// Route handlers, dispatched through a table as a web framework does. Only getItem keeps
// memory (through the cache); the others make more garbage per request, all of it freed.
const routes = [
  function getItem(id) {
    const body = renderRows(id, 20);
    cacheResponse(`/items/${id}`, body);
    return body.length;
  },
  function searchItems(id) {
    return renderRows(id, 80).length;
  },
  function listOrders(id) {
    return renderRows(id, 60).split(',').length;
  },
  function getProfile(id) {
    return JSON.parse(renderRows(id, 40)).length;
  },
  function health() {
    return JSON.stringify({ ok: true, uptime: process.uptime() }).length;
  },
];

function handleRequest(id) {
  return routes[id % routes.length](id);
}

// Serve batches of requests on a timer, like a busy server, then shut down while the cache is
// still referenced, as a service is stopped or restarted.
const totalRequests = Number(process.argv[2] ?? 60000);
let served = 0;
const timer = setInterval(() => {
  for (let i = 0; i < 500; i++) handleRequest(served++);
  evictExpired();
  if (served >= totalRequests) {
    clearInterval(timer);
    console.log(`served ${served} requests; the response cache holds ${cache.size} entries`);
    process.exit(0);
  }
}, 1);
