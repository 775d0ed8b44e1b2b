//! Time-driven session duties: heartbeats when idle, a TestRequest when the
//! counterparty is silent, and the logon/logout/test-request timeouts.
//!
//! Owning thread: the session's thread. Invariant: reads no clock; `now_ns`
//! comes from the caller, so tests drive time by hand.

use super::{Core, DisconnectReason, SessionHandler, SessionState};

impl Core {
    pub(super) fn poll_timers(&mut self, now_ns: u64, handler: &mut impl SessionHandler) {
        if self.disconnect_reason.is_some() {
            return;
        }
        let in_state_ns = now_ns.saturating_sub(self.state_since_ns);
        match self.state {
            SessionState::Disconnected => {}
            SessionState::LogonSent | SessionState::AwaitingLogon => {
                if in_state_ns >= self.config.logon_timeout_ns {
                    self.request_disconnect(DisconnectReason::LogonTimeout, handler);
                }
            }
            SessionState::LogoutSent => {
                if in_state_ns >= self.config.logout_timeout_ns {
                    self.request_disconnect(DisconnectReason::LogoutTimeout, handler);
                }
            }
            SessionState::Active => self.poll_active(now_ns, handler),
        }
    }

    /// Heartbeat after `HeartBtInt` without sending; TestRequest after
    /// `1.2 × HeartBtInt` without receiving; disconnect when the TestRequest
    /// stays unanswered for another `HeartBtInt`.
    fn poll_active(&mut self, now_ns: u64, handler: &mut impl SessionHandler) {
        let interval_ns = self.heartbeat_interval_ns;
        match self.test_request_sent_ns {
            Some(sent_ns) if now_ns.saturating_sub(sent_ns) >= interval_ns => {
                let text = b"no answer to TestRequest: counterparty silent";
                return self.logout_and_disconnect(
                    DisconnectReason::CounterpartySilent,
                    text,
                    now_ns,
                    handler,
                );
            }
            Some(_) => {}
            None if now_ns.saturating_sub(self.last_received_ns)
                >= interval_ns + interval_ns / 5 =>
            {
                self.test_request_id += 1;
                if self
                    .sender
                    .send_test_request(self.test_request_id, now_ns)
                    .is_err()
                {
                    return self.request_disconnect(DisconnectReason::OutputOverflow, handler);
                }
                self.test_request_sent_ns = Some(now_ns);
                self.counters.test_requests_sent += 1;
            }
            None => {}
        }
        if now_ns.saturating_sub(self.sender.last_sent_ns) >= interval_ns {
            if self.sender.send_heartbeat(None, now_ns).is_err() {
                return self.request_disconnect(DisconnectReason::OutputOverflow, handler);
            }
            self.counters.heartbeats_sent += 1;
        }
    }
}
