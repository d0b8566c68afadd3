import { useEffect } from "react";
import { useWebSocket } from "jobsocket/react";

/**
 * The client connects on demand (at the first subscription or message); the demo pages show
 * the connection before any job starts, so they ask for it at once.
 */
export function ConnectOnMount() {
  const { connect } = useWebSocket();
  useEffect(() => connect(), [connect]);
  return null;
}
