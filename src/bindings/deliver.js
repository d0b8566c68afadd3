// The hot path of event delivery. One call from wasm hands an event to every subscriber of
// its job: the payload is parsed by the engine's own JSON.parse from a slice of the string the
// browser delivered, instead of being built field by field across the wasm boundary.
// Handlers that throw do not stop the others; what they threw is returned for reporting.

export function deliverSlice(subscribers, event, frame, start, end, channel, jobId, seq) {
  return deliver(subscribers, event, JSON.parse(frame.slice(start, end)), channel, jobId, seq);
}

// Progress payloads built in one call from wasm rather than field by field (each field would
// be a call across the boundary): the hot path of events that did not arrive as the typed
// event's own JSON (another dialect's events, coalesced progress).
export function progressData(step, clipNumber, totalClips, percentage, message) {
  return { step, clip_number: clipNumber, total_clips: totalClips, percentage, message };
}

export function encodingProgressData(percentage, framesProcessed, totalFrames, estimatedRemaining) {
  return {
    percentage,
    frames_processed: framesProcessed,
    total_frames: totalFrames,
    estimated_remaining: estimatedRemaining,
  };
}

export function deliver(subscribers, event, data, channel, jobId, seq) {
  // `id` names the job or the app channel's id; `jobId` is kept for job handlers. `data` is
  // here again so that in `onEvent`, checking `meta.event` narrows `meta.data` (TypeScript
  // does not narrow one parameter by a property of another).
  const meta = { channel, jobId, id: jobId, seq, event, data };
  let thrown;
  for (let i = 0; i < subscribers.length; i++) {
    const handlers = subscribers[i];
    const specific = handlers[event];
    // An event named after a built-in (`toString`, `__defineGetter__`) must not call the
    // method every object inherits; a handler the app wrote, own or from its class, is called.
    if (typeof specific === "function" && specific !== Object.prototype[event]) {
      try {
        specific.call(handlers, data, meta);
      } catch (error) {
        (thrown ??= []).push(error);
      }
    }
    const every = handlers.onEvent;
    if (typeof every === "function") {
      try {
        every.call(handlers, data, meta);
      } catch (error) {
        (thrown ??= []).push(error);
      }
    }
  }
  return thrown;
}
