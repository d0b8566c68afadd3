// The driver's HTTP requests: a GET of a status endpoint, or a POST of an outbox message as
// JSON, with the token as a bearer when there is one. Built here rather than field by field
// from wasm (each header a call across the boundary and code in the binary).

/** `fetch(url)`, or a JSON `POST` of `body` when it is a string; the token as a bearer. */
export function httpRequest(url, body, token) {
  const headers = {};
  if (typeof token === "string") headers.authorization = `Bearer ${token}`;
  if (typeof body !== "string") return fetch(url, { headers });
  headers["content-type"] = "application/json";
  return fetch(url, { method: "POST", headers, body });
}
