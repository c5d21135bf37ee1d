// A second browsing context for the single-flight test: a dedicated worker that fetches the
// same chat's missing ranges the way a driver does (take the chat's Web Lock, re-read the
// chat record, request only what is still missing, write it in one transaction), serving
// its "network" from the records it was given and counting what it asked for.
const request = (r) => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result);
  r.onerror = () => reject(r.error);
});
const committed = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = resolve;
  tx.onabort = () => reject(tx.error);
});
function stillMissing(held, from, to) {
  const pairs = held.slice().sort((a, b) => a[0] - b[0]);
  const out = [];
  let cur = from;
  for (const [s, e] of pairs) {
    if (e < cur) continue;
    if (s > to) break;
    if (s > cur) out.push([cur, Math.min(s - 1, to)]);
    cur = Math.max(cur, e + 1);
    if (cur > to) break;
  }
  if (cur <= to) out.push([cur, to]);
  return out;
}
onmessage = async (event) => {
  const { dbName, rid, lockName, pages, records } = event.data;
  const served = [];
  try {
    const db = await request(indexedDB.open(dbName));
    // One page at a time, each under the chat's lock, as a driver does.
    for (const [from, to] of pages) await navigator.locks.request(lockName, async () => {
      const rtx = db.transaction(['chats'], 'readonly');
      const record = await request(rtx.objectStore('chats').get(rid));
      for (const [a, b] of stillMissing(record.held, from, to)) {
        served.push([a, b]);
        await new Promise((resolve) => setTimeout(resolve, 15));
        const tx = db.transaction(['messages', 'chats'], 'readwrite');
        const chats = tx.objectStore('chats');
        const messages = tx.objectStore('messages');
        const current = await request(chats.get(rid));
        for (let seq = a; seq <= b; seq++) messages.put(records[seq - 1]);
        current.held.push([a, b]);
        current.message_count += b - a + 1;
        chats.put(current);
        await committed(tx);
      }
    });
    db.close();
    postMessage({ served });
  } catch (error) {
    postMessage({ error: String(error), served });
  }
};
