//! Sharing one connection across tabs (`core::tabs`), on fake time: three tabs of one browser,
//! a lock, a channel, a job server that replays from `since`.

#[path = "core_tabs/world.rs"]
mod world;

use std::time::Duration;

use jobsocket::core::protocol::RawJson;
use jobsocket::core::{Event, Status, Timer};
use world::{World, config, seqs};

/// Each of `tabs` delivered the events 1 to `count` of `job`, each once, in order.
fn assert_each_got(world: &World, tabs: &[usize], job: &str, count: u64) {
    let expected: Vec<u64> = (1..=count).collect();
    for tab in tabs {
        assert_eq!(seqs(&world.pages[*tab], job), expected, "tab {tab}");
    }
}

fn three_tabs_watching(job: &str) -> World {
    let mut world = World::new(config());
    for _ in 0..3 {
        let tab = world.open_tab();
        world.subscribe(tab, job);
    }
    world
}

#[test]
fn three_tabs_share_one_socket_and_each_gets_every_event_once_in_order() {
    let mut world = three_tabs_watching("g1");
    for _ in 0..5 {
        world.emit("g1");
    }
    assert_eq!(world.server.sockets_opened, 1);
    assert_eq!(world.leaders(), vec![0]);
    for tab in 0..3 {
        assert_eq!(
            seqs(&world.pages[tab], "g1"),
            vec![1, 2, 3, 4, 5],
            "tab {tab}"
        );
        assert_eq!(
            world.pages[tab].tab.state().status,
            Status::Open,
            "tab {tab}"
        );
    }
    assert_eq!(world.pages[1].tab.role_name(), "follower");
}

#[test]
fn a_follower_that_joins_a_running_job_gets_its_whole_history_and_the_others_no_repeat() {
    let mut world = World::new(config());
    let first = world.open_tab();
    world.subscribe(first, "g1");
    for _ in 0..4 {
        world.emit("g1");
    }
    let late = world.open_tab();
    world.subscribe(late, "g1");
    world.emit("g1");
    assert_eq!(seqs(&world.pages[late], "g1"), vec![1, 2, 3, 4, 5]);
    assert_eq!(seqs(&world.pages[first], "g1"), vec![1, 2, 3, 4, 5]);
    assert_eq!(world.server.sockets_opened, 1);
}

#[test]
fn closing_the_leader_mid_job_hands_over_within_a_moment_and_nobody_misses_or_repeats() {
    let mut world = three_tabs_watching("g1");
    for _ in 0..3 {
        world.emit("g1");
    }
    world.close_tab(0);
    // The lock passes to the next tab in line at once: no timer is involved.
    assert_eq!(world.leaders(), vec![1]);
    for _ in 0..3 {
        world.emit("g1");
    }
    assert_each_got(&world, &[1, 2], "g1", 6);
    assert_eq!(world.server.open_sockets(), 1);
}

#[test]
fn events_the_old_leader_never_relayed_are_replayed_to_every_tab_by_the_new_one() {
    let mut world = three_tabs_watching("g1");
    world.emit("g1");
    // The leader freezes with events on their way to it, then its tab is closed.
    world.freeze(0);
    world.emit("g1");
    world.emit("g1");
    world.close_tab(0);
    world.emit("g1");
    assert_each_got(&world, &[1, 2], "g1", 4);
}

#[test]
fn reloading_each_tab_in_turn_loses_and_repeats_nothing() {
    let mut world = three_tabs_watching("g1");
    let mut tabs = vec![0, 1, 2];
    for tab in &mut tabs {
        world.emit("g1");
        let reloaded = world.reload_tab(*tab);
        world.subscribe(reloaded, "g1");
        *tab = reloaded;
        world.emit("g1");
    }
    assert_each_got(&world, &tabs, "g1", 6);
    assert_eq!(world.server.open_sockets(), 1);
}

#[test]
fn a_frozen_leader_is_replaced_within_the_timeout_and_steps_down_when_it_thaws() {
    let mut world = three_tabs_watching("g1");
    world.emit("g1");
    world.freeze(0);
    world.advance(Duration::from_millis(1_300));
    let leaders = world.leaders();
    assert_eq!(leaders.len(), 2, "the frozen one still thinks it leads");
    let new_leader = *leaders.iter().find(|tab| **tab != 0).expect("a new leader");
    world.emit("g1");
    world.thaw(0);
    assert_eq!(world.leaders(), vec![new_leader]);
    assert_eq!(world.pages[0].tab.role_name(), "follower");
    world.emit("g1");
    assert_each_got(&world, &[0, 1, 2], "g1", 3);
    assert_eq!(world.server.open_sockets(), 1);
}

#[test]
fn a_leader_that_answers_is_never_replaced_however_long_it_runs() {
    let mut world = three_tabs_watching("g1");
    world.advance(Duration::from_secs(600));
    assert_eq!(world.leaders(), vec![0]);
    assert_eq!(world.server.sockets_opened, 1);
}

#[test]
fn messages_sent_from_followers_reach_the_server_once_each() {
    let mut world = three_tabs_watching("g1");
    let mut ids = Vec::new();
    for round in 0..10 {
        for tab in 0..3 {
            let data = RawJson::new(format!("{{\"n\":{round}}}")).expect("JSON");
            ids.push(world.act(tab, |tab, now| tab.send(now, "note", data)));
        }
    }
    assert_eq!(world.server.handled.len(), 30);
    assert_eq!(world.server.messages_received, 30);
    for id in &ids {
        assert!(world.server.handled.contains(id));
    }
}

#[test]
fn a_message_sent_while_no_tab_leads_goes_to_the_next_leader_once() {
    let mut world = three_tabs_watching("g1");
    world.freeze(0);
    let data = RawJson::new("{}").expect("JSON");
    let id = world.act(1, |tab, now| tab.send(now, "note", data));
    world.close_tab(0);
    assert_eq!(world.server.handled.len(), 1);
    assert!(world.server.handled.contains(&id));
}

#[test]
fn the_outbox_the_old_leader_stored_is_delivered_by_the_new_one() {
    let mut world = three_tabs_watching("g1");
    // The leader queues while the browser is offline, then its tab closes.
    let data = RawJson::new("{}").expect("JSON");
    world.act(0, |tab, now| {
        tab.on_client(now, None, |client| client.handle_offline(now));
        tab.send(now, "note", data)
    });
    assert!(world.server.handled.is_empty());
    assert!(
        world
            .storage
            .as_deref()
            .is_some_and(|text| text.contains("note"))
    );
    world.close_tab(0);
    assert_eq!(world.server.handled.len(), 1);
}

#[test]
fn followers_mirror_the_leaders_connection_with_status_changes_of_their_own() {
    let mut world = World::new(config());
    let leader = world.open_tab();
    let follower = world.open_tab();
    world.subscribe(leader, "g1");
    let changes: Vec<(Status, Status)> = world.pages[follower]
        .events
        .iter()
        .filter_map(|event| match event {
            Event::StateChanged(change) => Some((change.from, change.to)),
            _ => None,
        })
        .collect();
    assert_eq!(changes.last(), Some(&(Status::Connecting, Status::Open)));
    assert_eq!(world.pages[follower].tab.state().status, Status::Open);
}

#[test]
fn closing_a_follower_stops_its_events_and_unsubscribes_what_only_it_watched() {
    let mut world = World::new(config());
    let leader = world.open_tab();
    let follower = world.open_tab();
    world.subscribe(leader, "g1");
    world.subscribe(follower, "g2");
    world.emit("g2");
    world.act(follower, |tab, now| tab.close(now));
    world.emit("g2");
    assert_eq!(seqs(&world.pages[follower], "g2"), vec![1]);
    assert_eq!(world.pages[follower].tab.state().status, Status::Closed);
    assert_eq!(world.pages[follower].tab.role_name(), "closed");
    assert_eq!(world.leaders(), vec![leader]);
}

#[test]
fn a_crashed_follower_is_forgotten_after_three_timeouts() {
    let mut world = World::new(config());
    let leader = world.open_tab();
    let follower = world.open_tab();
    world.subscribe(leader, "g1");
    world.subscribe(follower, "g2");
    world.emit("g2");
    world.close_tab(follower);
    world.advance(Duration::from_millis(3_500));
    world.emit("g2");
    // Nobody watches g2 now: the leader does not receive its event (no socket subscription).
    assert!(seqs(&world.pages[leader], "g2").is_empty());
}

#[test]
fn without_sharing_each_tab_has_its_own_socket() {
    let mut config = config();
    config.share_across_tabs = false;
    let mut world = World::new(config);
    for _ in 0..3 {
        let tab = world.open_tab();
        world.subscribe(tab, "g1");
    }
    world.emit("g1");
    assert_eq!(world.server.sockets_opened, 3);
    for tab in 0..3 {
        assert_eq!(world.pages[tab].tab.role_name(), "off");
        assert_eq!(seqs(&world.pages[tab], "g1"), vec![1]);
    }
}

#[test]
fn a_reconnect_asked_in_a_follower_reconnects_the_one_shared_socket() {
    let mut world = three_tabs_watching("g1");
    world.emit("g1");
    world.act(2, |tab, now| tab.reconnect(now));
    world.emit("g1");
    assert_eq!(world.server.sockets_opened, 2);
    assert_eq!(world.server.open_sockets(), 1);
    assert_each_got(&world, &[0, 1, 2], "g1", 2);
}

#[test]
fn closing_the_leader_with_close_hands_the_connection_over_and_shows_that_tab_closed() {
    let mut world = three_tabs_watching("g1");
    world.emit("g1");
    world.act(0, |tab, now| tab.close(now));
    assert_eq!(world.pages[0].tab.state().status, Status::Closed);
    assert_eq!(world.leaders().len(), 1);
    world.emit("g1");
    assert_each_got(&world, &[1, 2], "g1", 2);
    assert_eq!(seqs(&world.pages[0], "g1"), vec![1]);
    assert_eq!(world.server.open_sockets(), 1);
    // connect() joins again, as a follower, and gets what it missed.
    world.act(0, |tab, now| tab.connect(now));
    world.emit("g1");
    assert_eq!(world.pages[0].tab.role_name(), "follower");
    assert_each_got(&world, &[0, 1, 2], "g1", 3);
}

#[test]
fn clearing_the_outbox_in_a_follower_clears_the_shared_one_and_every_tab_hears_of_it() {
    let mut world = three_tabs_watching("g1");
    world.act(0, |tab, now| {
        tab.on_client(now, None, |client| client.handle_offline(now))
    });
    let data = RawJson::new("{}").expect("JSON");
    let id = world.act(1, |tab, now| tab.send(now, "note", data));
    assert!(
        world
            .storage
            .as_deref()
            .is_some_and(|text| text.contains(&id))
    );
    world.act(2, |tab, now| tab.clear_outbox(now));
    assert!(
        world
            .storage
            .as_deref()
            .is_some_and(|text| !text.contains(&id))
    );
    for tab in 0..3 {
        let cleared = world.pages[tab].events.iter().any(
            |event| matches!(event, Event::OutboxDropped { id: dropped, .. } if *dropped == id),
        );
        assert!(cleared, "tab {tab} heard of the cleared message");
    }
    world.act(0, |tab, now| tab.handle_online(now));
    assert!(world.server.handled.is_empty());
}

#[test]
fn coalesced_progress_reaches_followers_exactly_as_the_leader_delivers_it() {
    let mut config = config();
    config.max_progress_per_second = 2;
    let mut world = World::new(config);
    for _ in 0..2 {
        let tab = world.open_tab();
        world.subscribe(tab, "g1");
    }
    // Three progress events at once: the first goes out, the last is held, then released
    // from no frame (the relay form carries it).
    for _ in 0..3 {
        world.emit("g1");
    }
    world.advance(Duration::from_millis(600));
    assert_eq!(seqs(&world.pages[0], "g1"), vec![1, 3]);
    assert_eq!(seqs(&world.pages[1], "g1"), vec![1, 3]);
    let progress = |tab: usize| -> Vec<Event> {
        world.pages[tab]
            .events
            .iter()
            .filter(|event| matches!(event, Event::Job(_)))
            .map(|event| match event {
                Event::Job(delivery) => Event::Job(jobsocket::core::JobDelivery {
                    payload: None,
                    ..delivery.clone()
                }),
                other => other.clone(),
            })
            .collect()
    };
    assert_eq!(progress(0), progress(1));
}

#[test]
fn an_app_channel_event_reaches_only_the_tabs_that_joined_it_once_each() {
    let mut world = World::new(config());
    let tabs: Vec<usize> = (0..3).map(|_| world.open_tab()).collect();
    world.act(tabs[1], |tab, now| {
        tab.subscribe_channel(now, "workspace", "w1")
    });
    world.act(tabs[2], |tab, now| {
        tab.subscribe_channel(now, "workspace", "w1")
    });
    world.emit_app_event("workspace", "w1", 1);
    world.emit_app_event("workspace", "w1", 2);
    assert!(world.app_events(tabs[0]).is_empty());
    for tab in [tabs[1], tabs[2]] {
        let seqs: Vec<u64> = world.app_events(tab).iter().map(|event| event.2).collect();
        assert_eq!(seqs, vec![1, 2], "tab {tab}");
    }
    assert_eq!(world.server.sockets_opened, 1);
}

#[test]
fn a_leader_woken_from_a_freeze_never_writes_the_outbox_over_the_new_leaders() {
    let mut world = three_tabs_watching("g1");
    world.server.hold_acks = true;
    let first = RawJson::new("{\"n\":1}").expect("JSON");
    world.act(0, |tab, now| tab.send(now, "note", first));
    // Its ack arrives while the leader is frozen; a follower takes over meanwhile.
    world.freeze(0);
    world.release_acks();
    world.advance(Duration::from_millis(1_300));
    let new_leader = *world
        .leaders()
        .iter()
        .find(|tab| **tab != 0)
        .expect("a new leader");
    // The new leader's outbox holds a message sent from a follower, not acked yet.
    let follower = 3 - new_leader;
    let second = RawJson::new("{\"n\":2}").expect("JSON");
    let id = world.act(follower, |tab, now| tab.send(now, "note", second));
    assert!(
        world
            .storage
            .as_deref()
            .is_some_and(|text| text.contains(&id))
    );
    let writes = world.pages[0].storage_writes;
    world.thaw(0);
    // The old leader handled that old ack as a follower: it wrote nothing.
    assert_eq!(world.pages[0].storage_writes, writes);
    assert!(
        world
            .storage
            .as_deref()
            .is_some_and(|text| text.contains(&id))
    );
    assert_eq!(world.leaders(), vec![new_leader]);
}

#[test]
fn a_message_whose_tab_closes_while_no_tab_leads_is_delivered_once_by_the_next_leader() {
    let mut world = three_tabs_watching("g1");
    world.freeze(0);
    let data = RawJson::new("{}").expect("JSON");
    let id = world.act(1, |tab, now| tab.send(now, "note", data));
    assert_eq!(world.pages[1].tab.state().outbox_size, 1);
    world.close_tab(1);
    world.close_tab(0);
    assert_eq!(world.leaders(), vec![2]);
    assert_eq!(world.server.handled.len(), 1);
    assert!(world.server.handled.contains(&id));
    assert!(world.pending_storage.is_empty(), "the leader removed it");
}

#[test]
fn a_follower_forgets_its_stored_message_once_the_next_leader_took_it_from_storage() {
    let mut world = three_tabs_watching("g1");
    world.freeze(0);
    let data = RawJson::new("{}").expect("JSON");
    let id = world.act(2, |tab, now| tab.send(now, "note", data));
    world.close_tab(0);
    assert_eq!(world.leaders(), vec![1]);
    assert!(world.server.handled.contains(&id));
    assert_eq!(world.pages[2].tab.state().outbox_size, 0);
    // A later leader has nothing of it to send again.
    world.close_tab(1);
    assert_eq!(world.server.messages_received, 1);
}

#[test]
fn a_tab_joining_a_job_waits_for_the_leader_to_hear_it_so_live_events_never_cut_its_replay() {
    let mut world = World::new(config());
    let (first, second) = (world.open_tab(), world.open_tab());
    world.subscribe(first, "g1");
    world.subscribe(second, "g1");
    for _ in 0..4 {
        world.emit("g1");
    }
    let late = world.open_tab();
    // Event 5 reaches the leader before the late tab's hello does: the leader relays it (for
    // the second tab) before it starts the late tab's replay.
    world.emit_unsettled("g1");
    world.subscribe(late, "g1");
    world.emit("g1");
    assert_each_got(&world, &[first, second, late], "g1", 6);
}

#[test]
fn a_leader_whose_timers_stopped_is_replaced_even_if_it_still_answers_messages() {
    let mut world = three_tabs_watching("g1");
    world.emit("g1");
    // Chromium's frozen page: no timers, so no heartbeat; its channel's messages still run,
    // and it answers the followers' hellos.
    world.pages[0].timers_stopped = true;
    world.advance(Duration::from_millis(1_300));
    assert!(
        world.leaders().iter().any(|tab| *tab != 0),
        "a follower took over"
    );
}

#[test]
fn a_leader_whose_timers_stopped_takes_no_message_it_could_store_over_the_new_leaders_outbox() {
    let mut world = three_tabs_watching("g1");
    world.pages[0].timers_stopped = true;
    world.advance(Duration::from_millis(1_300));
    let writes = world.pages[0].storage_writes;
    // A follower's message reaches the old leader too, which still handles messages.
    let data = RawJson::new("{}").expect("JSON");
    let id = world.act(2, |tab, now| tab.send(now, "note", data));
    assert_eq!(
        world.pages[0].storage_writes, writes,
        "the old leader stored nothing"
    );
    assert_ne!(world.pages[0].tab.role_name(), "leader");
    assert!(world.server.handled.contains(&id));
    assert_eq!(world.server.messages_received, 1);
}

#[test]
fn followers_that_all_see_the_leader_fall_silent_take_over_one_at_a_time() {
    for tabs in [3, 5] {
        let mut world = World::new(config());
        for _ in 0..tabs {
            let tab = world.open_tab();
            world.subscribe(tab, "g1");
        }
        world.emit("g1");
        world.freeze(0);
        world.advance(Duration::from_millis(2_500));
        // One follower took the lock over; the others heard it lead before their turn came.
        assert_eq!(world.server.sockets_opened, 2, "{tabs} tabs");
        world.emit("g1");
        let followers: Vec<usize> = (1..tabs).collect();
        assert_each_got(&world, &followers, "g1", 2);
    }
}

fn heartbeats(world: &World, page: usize) -> usize {
    world.pages[page]
        .wakeups
        .iter()
        .filter(|timer| **timer == Timer::TabHeartbeat)
        .count()
}

#[test]
fn a_tab_alone_wakes_only_for_its_connections_own_timers() {
    let mut world = World::new(config());
    let tab = world.open_tab();
    world.act(tab, |tab, now| tab.connect(now));
    world.advance(Duration::from_secs(60));
    assert_eq!(world.pages[tab].tab.role_name(), "leader");
    assert_eq!(heartbeats(&world, tab), 0);
    // Two pings (every 30 s) and the one check that the connection is stable.
    assert!(
        world.pages[tab].wakeups.len() <= 3,
        "{:?}",
        world.pages[tab].wakeups
    );
}

#[test]
fn a_leader_beats_while_a_follower_is_there_and_stops_once_it_is_gone() {
    let mut world = World::new(config());
    let leader = world.open_tab();
    let follower = world.open_tab();
    world.subscribe(follower, "g1");
    world.advance(Duration::from_secs(2));
    // Every 200 ms while followed.
    assert!(
        heartbeats(&world, leader) >= 9,
        "{}",
        heartbeats(&world, leader)
    );
    world.close_tab(follower);
    // A crashed follower is forgotten after three timeouts (3 s here), and the heartbeat stops.
    world.advance(Duration::from_secs(4));
    world.pages[leader].wakeups.clear();
    world.advance(Duration::from_secs(10));
    assert_eq!(heartbeats(&world, leader), 0);
    // A new tab starts it again, and follows without taking the lock over.
    let newcomer = world.open_tab();
    world.advance(Duration::from_secs(5));
    assert!(heartbeats(&world, leader) >= 20);
    assert_eq!(world.pages[newcomer].tab.role_name(), "follower");
    assert_eq!(world.server.sockets_opened, 1);
}

#[test]
fn a_follower_whose_timers_slept_gives_the_leader_a_timeout_before_taking_over() {
    let mut world = World::new(config());
    let leader = world.open_tab();
    let follower = world.open_tab();
    world.subscribe(follower, "g1");
    world.emit("g1");
    // A background tab's timers throttled to a minute: its hellos stop, so the leader forgets
    // it and stops beating; its messages still run.
    world.pages[follower].timers_stopped = true;
    world.advance(Duration::from_secs(10));
    world.pages[follower].timers_stopped = false;
    world.advance(Duration::from_secs(3));
    assert_eq!(world.leaders(), vec![leader]);
    assert_eq!(world.pages[follower].tab.role_name(), "follower");
    assert_eq!(world.server.sockets_opened, 1);
    world.emit("g1");
    assert_eq!(seqs(&world.pages[follower], "g1"), [1, 2]);
}
