// node_work.js N - JSON and string heavy work; prints checksums that are the
// same on every allocator.
const crypto = require('crypto');
const N = parseInt(process.argv[2] || '200000', 10);
const h = crypto.createHash('sha256');
const objs = [];
for (let i = 0; i < N; i++) {
  objs.push({id: i, name: 'item-' + i.toString(36), tags: ['t' + (i % 7), 't' + (i % 11)],
             nested: {v: i * 0.5, s: 'x'.repeat(i % 50)}});
}
const blob = JSON.stringify(objs);
h.update(blob);
const back = JSON.parse(blob);
let sum = 0;
for (const o of back) sum += o.id + o.nested.s.length + o.tags.length;
const m = new Map();
for (let i = 0; i < N; i++) {
  const k = 'key:' + (i * 7919 % N);
  m.set(k, (m.get(k) || '') + String.fromCharCode(97 + i % 26));
}
let parts = [];
for (const [k, v] of m) if (k.endsWith('7')) parts.push(k + '=' + v);
const joined = parts.join('&');
h.update(joined);
const words = blob.match(/item-[0-9a-z]+/g);
const re = joined.replace(/[aeiou]/g, c => c.toUpperCase());
h.update(re);
let big = '';
for (let i = 0; i < 20000; i++) big += i.toString(16) + ',';
h.update(big.split(',').reverse().join(';'));
console.log(`objects=${back.length} json=${blob.length} sum=${sum} map=${m.size} words=${words.length} joined=${joined.length}`);
console.log(h.digest('hex'));
