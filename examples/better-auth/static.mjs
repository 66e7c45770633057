// The example web page: serves the files of public/ and /config.json.
//
// Every file is read once at start-up into a fixed table, so no request
// path ever reaches the file system (no traversal, no listing). Each page
// response carries a Content-Security-Policy that allows scripts and styles
// only from this origin (the page has no inline script) and network calls
// only to this origin (Better Auth) and to rowgate's origin.

import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * publicFiles reads dir (a folder URL) and returns a handler
 * `(req, res) => boolean` that answers GET and HEAD for its files ("/"
 * is index.html) and for /config.json ({"rowgateURL": …}), and returns
 * false for every other request. rowgateURL must be an http(s) URL: its
 * origin is the one the page may call besides its own.
 */
export async function publicFiles(dir, rowgateURL) {
  const rowgate = new URL(rowgateURL);
  if (rowgate.protocol !== "http:" && rowgate.protocol !== "https:") {
    throw new Error(`ROWGATE_URL must be an http(s) URL, got ${rowgateURL}`);
  }
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self' ${rowgate.origin}`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  const files = new Map();
  for (const name of await readdir(dir)) {
    const type = TYPES[path.extname(name)];
    if (type) files.set(`/${name}`, { type, body: await readFile(new URL(name, dir)) });
  }
  files.set("/", files.get("/index.html"));
  files.set("/config.json", {
    type: "application/json",
    body: Buffer.from(JSON.stringify({ rowgateURL: rowgate.href.replace(/\/+$/, "") })),
  });

  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const file = files.get(new URL(req.url, "http://x").pathname);
    if (!file) return false;
    res.writeHead(200, {
      "content-type": file.type,
      "content-length": file.body.length,
      "cache-control": "no-cache",
      "content-security-policy": csp,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    });
    res.end(req.method === "HEAD" ? undefined : file.body);
    return true;
  };
}
