// The API client for the signed-in session.
import { createApi } from "./api.js";

export function apiFor(session, options = {}) {
  return createApi({ serverUrl: session.serverUrl, token: session.token, fetch: (...a) => fetch(...a), ...options });
}
