//! App channels over a real socket: what a joined channel costs the server once its socket
//! is gone.

mod common;

use jobsocket::core::protocol::{ClientFrame, ServerFrame};

#[tokio::test]
async fn closing_a_socket_ends_the_forwarders_of_the_channels_it_joined() {
    let server = common::start(1).await;
    let mut socket = server.socket().await;
    for id in ["w_1", "w_2"] {
        let join = ClientFrame::Join {
            channel: "workspace".to_owned(),
            id: id.to_owned(),
            since: None,
        };
        socket.send(&join).await;
        assert!(matches!(
            socket.next_frame().await,
            ServerFrame::Joined { .. }
        ));
    }
    let channels: Vec<_> = ["w_1", "w_2"]
        .into_iter()
        .map(|id| {
            server
                .state
                .channels()
                .get_or_create("workspace", id)
                .expect("room for a channel")
        })
        .collect();
    assert!(channels.iter().all(|channel| channel.watchers() == 1));

    socket.close().await;

    // A forwarder left behind would wait for the channel's next event forever, holding the
    // socket's queue; nothing is published here, so only aborting it ends it.
    let ended = tokio::time::timeout(common::PATIENCE, async {
        while channels.iter().any(|channel| channel.watchers() > 0) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the channel forwarders outlived their socket"
    );
}
