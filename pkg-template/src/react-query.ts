"use client";
// `jobsocket/react-query`: keeps TanStack Query's cache in step with the server's events, so
// lists and details fetched over REST change the moment something happens, without a refetch
// (`update`, `set`) or with one (`invalidate`). React Query is an optional peer dependency.
import { useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { useJobEvents, useServerEvent } from "./react.js";

/** What an event's rule is told besides the data. */
export interface QueryEventMeta<E extends string = string> {
  event: E;
  seq: number;
}

/** A query key, or a function of the event giving one. */
export type QueryKeyFor<D, E extends string> = QueryKey | ((data: D, meta: QueryEventMeta<E>) => QueryKey);

/** What one event does to the cache. */
export type QueryRule<D, E extends string = string> =
  /** Marks the query stale and refetches it if it is in use. */
  | { invalidate: QueryKeyFor<D, E> }
  /** Replaces the cached data with a function of it and the event (undefined if not cached). */
  | {
      update: QueryKeyFor<D, E>;
      // A method, so an updater may name the cached type: `(list: Approval[] = [], item) => …`.
      with(previous: unknown, data: D, meta: QueryEventMeta<E>): unknown;
    }
  /** Sets the cached data to the event's data, or to `to(data)`. */
  | { set: QueryKeyFor<D, E>; to?(data: D, meta: QueryEventMeta<E>): unknown };

/** Rules by event name of the event map `M`: one rule or several. */
export type QueryRules<M> = {
  [E in keyof M & string]?: QueryRule<M[E], E> | ReadonlyArray<QueryRule<M[E], E>>;
};

/**
 * Applies `rules` to the React Query cache for every event of a job or app channel (`null` id:
 * none). With `channel` null, the rules' event names are listened to whichever channel they
 * come from (a Socket.IO server's rooms). Rules are read from the latest render.
 */
export function useQuerySync<M extends object = Record<string, unknown>>(
  channel: string | null,
  id: string | null,
  rules: QueryRules<M>,
): void {
  const queryClient = useQueryClient();
  const apply = (data: unknown, meta: QueryEventMeta) =>
    applyRules(queryClient, rules as QueryRules<Record<string, unknown>>, data, meta);
  useJobEvents(channel ?? "", channel === null ? null : id, { onEvent: apply } as never);
  const names = channel === null ? Object.keys(rules) : [];
  useServerEvent(names, apply as never);
}

function applyRules(
  queryClient: QueryClient,
  rules: QueryRules<Record<string, unknown>>,
  data: unknown,
  meta: QueryEventMeta,
): void {
  const listed = rules[meta.event];
  if (!listed) return;
  for (const rule of (Array.isArray(listed) ? listed : [listed]) as QueryRule<unknown>[]) {
    if ("invalidate" in rule) {
      void queryClient.invalidateQueries({ queryKey: keyOf(rule.invalidate, data, meta) });
    } else if ("update" in rule) {
      queryClient.setQueryData(keyOf(rule.update, data, meta), (previous: unknown) => rule.with(previous, data, meta));
    } else {
      queryClient.setQueryData(keyOf(rule.set, data, meta), rule.to ? rule.to(data, meta) : data);
    }
  }
}

function keyOf(key: QueryKeyFor<unknown, string>, data: unknown, meta: QueryEventMeta): QueryKey {
  return typeof key === "function" ? key(data, meta) : key;
}
