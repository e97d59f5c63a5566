//! One RTCPeerConnection with its data channel, in a guard that closes both and
//! unhooks every handler when dropped.
//!
//! The channel is pre-negotiated (`negotiated: true, id: 0`) on both sides, so no
//! `datachannel` event is needed and both ends hold the channel from the start.
//! Offers and answers are complete (non-trickle): the SDP is read once ICE gathering
//! has finished, as the tracker protocol carries one SDP per offer.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use futures::channel::oneshot;
use hlsmesh_core::peer::SEND_LOW_WATER;
use hlsmesh_core::{ConnId, Input};
use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    Event, MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelInit, RtcDataChannelType,
    RtcIceGatheringState, RtcPeerConnection, RtcPeerConnectionState, RtcSdpType,
    RtcSessionDescriptionInit,
};

use crate::driver::{describe, submit_weak, Shared};

type Handler = Closure<dyn FnMut(Event)>;

/// A peer connection and its channel.
pub(crate) struct PeerConn {
    conn: ConnId,
    pc: RtcPeerConnection,
    dc: RtcDataChannel,
    weak: Weak<Shared>,
    gathered: Rc<RefCell<Option<oneshot::Sender<()>>>>,
    gathered_rx: RefCell<Option<oneshot::Receiver<()>>>,
    _handlers: Vec<Handler>,
}

impl PeerConn {
    pub(crate) fn new(
        conn: ConnId,
        ice_servers: &JsValue,
        weak: Weak<Shared>,
    ) -> Result<PeerConn, JsValue> {
        let config = RtcConfiguration::new();
        config.set_ice_servers(ice_servers);
        let pc = RtcPeerConnection::new_with_configuration(&config)?;
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(0);
        init.set_ordered(true);
        let dc = pc.create_data_channel_with_data_channel_dict("hlsmesh", &init);
        dc.set_binary_type(RtcDataChannelType::Arraybuffer);
        dc.set_buffered_amount_low_threshold(SEND_LOW_WATER as u32);

        let (tx, rx) = oneshot::channel();
        let gathered = Rc::new(RefCell::new(Some(tx)));
        let mut handlers = Vec::new();

        let w = weak.clone();
        let on_open =
            Closure::<dyn FnMut(Event)>::new(move |_| submit_weak(&w, Input::ChannelOpen { conn }));
        dc.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        handlers.push(on_open);

        let w = weak.clone();
        let on_message = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
            let Ok(msg) = e.dyn_into::<MessageEvent>() else {
                return;
            };
            let input = match msg.data().dyn_into::<ArrayBuffer>() {
                Ok(buf) => Input::ChannelMessage {
                    conn,
                    data: Uint8Array::new(&buf).to_vec().into(),
                },
                // Text frames are not part of the protocol.
                Err(_) => Input::ConnClosed {
                    conn,
                    reason: "peer sent a text frame".into(),
                },
            };
            submit_weak(&w, input);
        });
        dc.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        handlers.push(on_message);

        let w = weak.clone();
        let on_close = Closure::<dyn FnMut(Event)>::new(move |_| {
            submit_weak(
                &w,
                Input::ConnClosed {
                    conn,
                    reason: "channel closed".into(),
                },
            )
        });
        dc.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        handlers.push(on_close);

        let w = weak.clone();
        let dc2 = dc.clone();
        let on_low = Closure::<dyn FnMut(Event)>::new(move |_| {
            submit_weak(
                &w,
                Input::ChannelBuffered {
                    conn,
                    buffered: dc2.buffered_amount() as usize,
                },
            )
        });
        dc.set_onbufferedamountlow(Some(on_low.as_ref().unchecked_ref()));
        handlers.push(on_low);

        let w = weak.clone();
        let pc2 = pc.clone();
        let on_state = Closure::<dyn FnMut(Event)>::new(move |_| {
            if matches!(
                pc2.connection_state(),
                RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed
            ) {
                submit_weak(
                    &w,
                    Input::ConnClosed {
                        conn,
                        reason: "connection failed".into(),
                    },
                );
            }
        });
        pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        handlers.push(on_state);

        let pc3 = pc.clone();
        let g = gathered.clone();
        let on_gather = Closure::<dyn FnMut(Event)>::new(move |_| {
            if pc3.ice_gathering_state() == RtcIceGatheringState::Complete {
                if let Some(tx) = g.borrow_mut().take() {
                    let _ = tx.send(());
                }
            }
        });
        pc.set_onicegatheringstatechange(Some(on_gather.as_ref().unchecked_ref()));
        handlers.push(on_gather);

        Ok(PeerConn {
            conn,
            pc,
            dc,
            weak,
            gathered,
            gathered_rx: RefCell::new(Some(rx)),
            _handlers: handlers,
        })
    }

    /// Creates our offer; reports [`Input::OfferCreated`] once ICE gathering is complete.
    pub(crate) fn make_offer(&self) {
        let (pc, conn, weak, rx) = (
            self.pc.clone(),
            self.conn,
            self.weak.clone(),
            self.gathered_rx.borrow_mut().take(),
        );
        let gathered = self.gathered.clone();
        spawn_local(async move {
            let result = async {
                let offer = JsFuture::from(pc.create_offer()).await?;
                JsFuture::from(pc.set_local_description(offer.unchecked_ref())).await?;
                complete_sdp(&pc, rx, &gathered).await
            }
            .await;
            submit_weak(
                &weak,
                match result {
                    Ok(sdp) => Input::OfferCreated { conn, sdp },
                    Err(e) => Input::ConnClosed {
                        conn,
                        reason: describe(&e),
                    },
                },
            );
        });
    }

    /// Answers a remote offer; reports [`Input::AnswerCreated`] once gathering is complete.
    pub(crate) fn make_answer(&self, remote_sdp: String) {
        let (pc, conn, weak, rx) = (
            self.pc.clone(),
            self.conn,
            self.weak.clone(),
            self.gathered_rx.borrow_mut().take(),
        );
        let gathered = self.gathered.clone();
        spawn_local(async move {
            let result = async {
                let desc = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
                desc.set_sdp(&remote_sdp);
                JsFuture::from(pc.set_remote_description(&desc)).await?;
                let answer = JsFuture::from(pc.create_answer()).await?;
                JsFuture::from(pc.set_local_description(answer.unchecked_ref())).await?;
                complete_sdp(&pc, rx, &gathered).await
            }
            .await;
            submit_weak(
                &weak,
                match result {
                    Ok(sdp) => Input::AnswerCreated { conn, sdp },
                    Err(e) => Input::ConnClosed {
                        conn,
                        reason: describe(&e),
                    },
                },
            );
        });
    }

    /// Applies the remote answer to our offer.
    pub(crate) fn accept_answer(&self, sdp: String) {
        let (pc, conn, weak) = (self.pc.clone(), self.conn, self.weak.clone());
        spawn_local(async move {
            let desc = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
            desc.set_sdp(&sdp);
            if let Err(e) = JsFuture::from(pc.set_remote_description(&desc)).await {
                submit_weak(
                    &weak,
                    Input::ConnClosed {
                        conn,
                        reason: describe(&e),
                    },
                );
            }
        });
    }

    /// Sends one frame; returns the channel's `bufferedAmount` after it.
    pub(crate) fn send(&self, data: &[u8]) -> Result<usize, JsValue> {
        self.dc.send_with_u8_array(data)?;
        Ok(self.dc.buffered_amount() as usize)
    }
}

/// Waits for ICE gathering to finish, then reads the local SDP with every candidate in it.
async fn complete_sdp(
    pc: &RtcPeerConnection,
    rx: Option<oneshot::Receiver<()>>,
    gathered: &Rc<RefCell<Option<oneshot::Sender<()>>>>,
) -> Result<String, JsValue> {
    if pc.ice_gathering_state() != RtcIceGatheringState::Complete {
        if let Some(rx) = rx {
            rx.await
                .map_err(|_| JsValue::from_str("connection closed while gathering"))?;
        }
    }
    gathered.borrow_mut().take();
    let desc = pc
        .local_description()
        .ok_or_else(|| JsValue::from_str("no local description"))?;
    let sdp = Reflect::get(&desc, &JsValue::from_str("sdp"))?;
    sdp.as_string()
        .ok_or_else(|| JsValue::from_str("local description without SDP"))
}

impl Drop for PeerConn {
    fn drop(&mut self) {
        self.dc.set_onopen(None);
        self.dc.set_onmessage(None);
        self.dc.set_onclose(None);
        self.dc.set_onbufferedamountlow(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.set_onicegatheringstatechange(None);
        self.dc.close();
        self.pc.close();
    }
}
