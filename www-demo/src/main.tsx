import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { JobSocketProvider } from "jobsocket/react";
import { App } from "./App";

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");

createRoot(root).render(
  <StrictMode>
    <JobSocketProvider options={{ url: `${location.origin}/ws` }}>
      <App />
    </JobSocketProvider>
  </StrictMode>,
);
