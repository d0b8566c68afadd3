// The user's own test: the component inside <JobSocketProvider client={mock}> with the mock
// client of `jobsocket/testing`, which plays the server's events; no socket, no wasm.
import { StrictMode } from "react";
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, expect, test, vi } from "vitest";
import { ConnectionStatus, JobSocketProvider } from "jobsocket/react";
import { MockClient } from "jobsocket/testing";
import { GenerationCard } from "./GenerationCard.jsx";

afterEach(cleanup);

function renderCard(mock) {
  return render(
    <StrictMode>
      <JobSocketProvider client={mock}>
        <ConnectionStatus />
        <GenerationCard id="g1" />
      </JobSocketProvider>
    </StrictMode>,
  );
}

test("the card follows a generation the mock plays, to its video", () => {
  const mock = new MockClient();
  const { container } = renderCard(mock);
  const card = screen.getByRole("region", { name: "generation g1" });
  expect(mock.subscriptions.has("generation:g1")).toBe(true);

  act(() => mock.setStatus("open"));
  expect(container.querySelector("[data-status]").getAttribute("data-status")).toBe("connected");

  act(() =>
    mock.emit("generation", "g1", "progress", {
      step: "render",
      clip_number: 1,
      total_clips: 2,
      percentage: 50,
      message: "",
    }),
  );
  expect(card.getAttribute("data-status")).toBe("processing");
  expect(card.querySelector("progress").value).toBe(50);

  act(() => mock.emit("generation", "g1", "clip_completed", { clip_id: "c1", thumbnail_url: "/c1.png", duration: 2 }));
  act(() => mock.emit("generation", "g1", "clip_completed", { clip_id: "c2", thumbnail_url: "/c2.png", duration: 2 }));
  act(() => mock.emit("generation", "g1", "completed", { video_url: "/g1.mp4", thumbnail_url: "/g1.png", duration: 4 }));
  expect(card.getAttribute("data-status")).toBe("completed");
  expect(card.querySelector("progress").value).toBe(100);
  expect([...card.querySelectorAll("li")].map((item) => item.textContent)).toEqual(["c1", "c2"]);
  expect(card.querySelector("video").getAttribute("src")).toBe("/g1.mp4");
});

test("cancel sends a message through the client; unmounting ends the subscription", async () => {
  const mock = new MockClient();
  const { unmount } = renderCard(mock);
  fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
  expect(mock.sent).toEqual([expect.objectContaining({ event: "cancel", data: { job: "g1" } })]);

  unmount();
  // The hooks release a subscription a moment after the last component lets go of it.
  await vi.waitFor(() => expect(mock.subscriptions.has("generation:g1")).toBe(false));
});
