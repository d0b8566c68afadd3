import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { JobSocketProvider } from "jobsocket/react";
import { App } from "./App";
import { scoped } from "./api";

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");

createRoot(root).render(
  <StrictMode>
    <JobSocketProvider
      options={{
        url: scoped(`${location.origin}/ws`),
        generationUrl: scoped("/api/v1/generations/{id}"),
        compositionUrl: scoped("/api/v1/compositions/{id}"),
        messagesUrl: scoped("/api/v1/messages"),
      }}
    >
      <App />
    </JobSocketProvider>
  </StrictMode>,
);
