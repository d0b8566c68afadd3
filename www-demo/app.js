// The demo page: plain JavaScript over the jobsocket package the reference server serves at
// /pkg/. It shows what an app does with the client: subscribe to a job, render its events.
import init, { JobSocket } from "/pkg/jobsocket.js";

const $ = (selector, root = document) => root.querySelector(selector);

await init();

const socket = new JobSocket({ url: `${location.origin}/ws` });

function showConnection({ status, reason }) {
  $("#connection").dataset.status = status;
  $("#connection-status").textContent = status;
  $("#connection-reason").textContent = reason ? `(${reason})` : "";
}
showConnection(socket.state);
socket.onStateChange(showConnection);
socket.onError(({ code, message }) => {
  const item = document.createElement("li");
  item.textContent = `${code}: ${message}`;
  $("#errors").append(item);
});
socket.connect();

async function startJob(kind, body) {
  const response = await fetch(`/api/v1/${kind}s`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`starting a ${kind} failed: ${response.status}`);
  const { id } = await response.json();
  return id;
}

function jobCard(kind, id) {
  const card = $("#job-card").content.firstElementChild.cloneNode(true);
  card.id = `job-${id}`;
  card.dataset.status = "queued";
  $(".job-kind", card).textContent = kind === "generation" ? "Generation" : "Composition";
  $(".job-id", card).textContent = id;
  $("#jobs").prepend(card);
  return {
    card,
    status(status) {
      card.dataset.status = status;
      $(".job-status", card).textContent = status;
    },
    progress(percentage, message) {
      const rounded = Math.round(percentage);
      $(".bar", card).setAttribute("aria-valuenow", String(rounded));
      $(".bar-fill", card).style.width = `${percentage}%`;
      $(".job-progress", card).textContent = `${rounded}%`;
      if (message !== undefined) $(".job-message", card).textContent = message;
    },
    clip(clip) {
      const item = document.createElement("li");
      const image = document.createElement("img");
      image.src = clip.thumbnail_url;
      image.alt = `clip ${clip.clip_id}`;
      item.append(image);
      $(".clips", card).append(item);
    },
    result(result) {
      const line = $(".job-result", card);
      line.hidden = false;
      line.replaceChildren("Result: ");
      const link = document.createElement("a");
      link.href = result.video_url;
      link.textContent = result.video_url;
      line.append(link, ` (${result.duration} s)`);
    },
    error(error) {
      const line = $(".job-error", card);
      line.hidden = false;
      line.textContent = `Error ${error.code}: ${error.message}`;
    },
  };
}

async function startGeneration(fail) {
  const id = await startJob("generation", { clips: 3, steps_per_clip: 4, fail });
  const view = jobCard("generation", id);
  const subscription = socket.subscribeGeneration(id, {
    queued: ({ position }) => view.status(`queued (position ${position})`),
    status_change: ({ new_status }) => view.status(new_status),
    progress: ({ percentage, message }) => view.progress(percentage, message),
    clip_completed: (clip) => view.clip(clip),
    completed: (result) => {
      view.status("completed");
      view.progress(100);
      view.result(result);
      subscription.unsubscribe();
    },
    error: (error) => {
      view.error(error);
      if (!error.recoverable) {
        view.status("failed");
        subscription.unsubscribe();
      }
    },
  });
}

async function startComposition() {
  const id = await startJob("composition", { total_frames: 240, steps: 8 });
  const view = jobCard("composition", id);
  view.status("processing");
  const subscription = socket.subscribeComposition(id, {
    encoding_progress: ({ percentage, frames_processed, total_frames, estimated_remaining }) =>
      view.progress(
        percentage,
        `${frames_processed} / ${total_frames} frames, about ${estimated_remaining.toFixed(1)} s left`,
      ),
    completed: (result) => {
      view.status("completed");
      view.progress(100);
      view.result(result);
      subscription.unsubscribe();
    },
    error: (error) => {
      view.error(error);
      view.status("failed");
      subscription.unsubscribe();
    },
  });
}

$("#start-generation").addEventListener("click", () => startGeneration(false));
$("#start-failing-generation").addEventListener("click", () => startGeneration(true));
$("#start-composition").addEventListener("click", () => startComposition());
document.body.dataset.ready = "true";
