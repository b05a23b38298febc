using System;
using VTuber.Animation.Wire;

namespace VTuber.Animation
{
    /// <summary>What a received text frame turned out to be.</summary>
    public enum FrameKind
    {
        /// <summary>A new event: hand its data to the <see cref="SessionPlayer{T}"/> (which ignores types it does not know).</summary>
        Event,

        /// <summary>A keep-alive: it only shows the connection lives.</summary>
        Ping,

        /// <summary>An event already received (an id at or before the newest one): drop it.</summary>
        Duplicate,

        /// <summary>Not a frame of the protocol (not JSON, no event type, an event without data): drop it.</summary>
        Malformed,
    }

    /// <summary>After the connection closed: try again after <c>delayS</c>, or stop (the server will never accept it).</summary>
    public enum CloseVerdict
    {
        Reconnect,
        GiveUp,
    }

    /// <summary>
    /// The client side of <c>WS /v1/sessions/{id}/ws</c> without the socket: the URL to connect to (the key as
    /// <c>access_token</c>, the newest event id as <c>after</c> so a reconnect continues without gaps), the
    /// received text frames turned into events with duplicates and keep-alives removed, and what to do when the
    /// connection closes (the server's close codes; backoff between attempts). The transport (Unity's
    /// ClientWebSocket) feeds it text and acts on the answers, so all of this is tested without a socket.
    /// </summary>
    public sealed class SessionChannel
    {
        /// <summary>Close codes of the server (api/routes/session_channel.py): 4000 + the HTTP status of the refusal.</summary>
        public const int CloseBadKey = 4401;
        public const int CloseForbidden = 4403;
        public const int CloseUnknownSession = 4404;
        public const int CloseBadResumeId = 4400;

        readonly string _baseUrl;
        readonly Func<string, SessionFrameDto> _decode;
        readonly RecentIds _otherIds = new RecentIds();
        StreamId _newest;
        bool _hasNewest;

        /// <param name="baseUrl">The API's base URL as for HTTP (http(s)://host[:port][/prefix]); ws(s) works too.</param>
        /// <param name="decode">Parses one frame's JSON: <c>JsonUtility.FromJson&lt;SessionFrameDto&gt;</c> in Unity.</param>
        public SessionChannel(string baseUrl, string sessionId, string accessToken, Func<string, SessionFrameDto> decode,
            ReconnectBackoff backoff = null)
        {
            if (string.IsNullOrEmpty(baseUrl)) throw new ArgumentException("the API's base URL is needed", "baseUrl");
            if (string.IsNullOrEmpty(sessionId)) throw new ArgumentException("a session id is needed", "sessionId");
            if (decode == null) throw new ArgumentNullException("decode");
            _baseUrl = baseUrl;
            SessionId = sessionId;
            AccessToken = accessToken ?? "";
            _decode = decode;
            Backoff = backoff ?? new ReconnectBackoff();
            ResumeId = "";
        }

        public string SessionId { get; private set; }
        public string AccessToken { get; private set; }
        public ReconnectBackoff Backoff { get; private set; }

        /// <summary>The newest event id received, sent as <c>after</c> on the next connection; empty before any.</summary>
        public string ResumeId { get; private set; }

        /// <summary>Why <see cref="Closed"/> gave up; null while reconnecting is worth it.</summary>
        public string Problem { get; private set; }

        /// <summary>A frame has arrived since the last <see cref="Opened"/>: the connection works.</summary>
        public bool HeardSinceOpened { get; private set; }

        public int DuplicateCount { get; private set; }
        public int MalformedCount { get; private set; }

        /// <summary>
        /// <c>ws(s)://host/…/v1/sessions/{id}/ws?access_token=…&amp;after=…</c>: http becomes ws and https wss.
        /// Without an <c>after</c> the server starts with the turns still in progress, then goes live.
        /// </summary>
        public string ConnectUrl()
        {
            var baseUri = new Uri(_baseUrl, UriKind.Absolute);
            string scheme = baseUri.Scheme == "https" || baseUri.Scheme == "wss" ? "wss" : "ws";
            string url = scheme + "://" + baseUri.Authority + baseUri.AbsolutePath.TrimEnd('/') + "/v1/sessions/"
                + Uri.EscapeDataString(SessionId) + "/ws";
            string query = "";
            if (AccessToken.Length > 0) query += "&access_token=" + Uri.EscapeDataString(AccessToken);
            if (ResumeId.Length > 0) query += "&after=" + Uri.EscapeDataString(ResumeId);
            return query.Length > 0 ? url + "?" + query.Substring(1) : url;
        }

        /// <summary>The socket is open: the next frame shows whether the server keeps it.</summary>
        public void Opened()
        {
            HeardSinceOpened = false;
        }

        /// <summary>
        /// One received text frame. <paramref name="frame"/> is set for <see cref="FrameKind.Event"/> (its
        /// <c>data</c> is the JobEvent) and <see cref="FrameKind.Ping"/>. The resume id moves on with every new event.
        /// </summary>
        public FrameKind Receive(string text, out SessionFrameDto frame)
        {
            frame = null;
            SessionFrameDto parsed = Decode(text);
            if (parsed == null || string.IsNullOrEmpty(parsed.@event))
            {
                MalformedCount++;
                return FrameKind.Malformed;
            }
            if (!HeardSinceOpened)
            {
                HeardSinceOpened = true;
                Backoff.Reset(); // the server took the connection: a later drop starts the backoff over
            }
            if (parsed.@event == SessionFrameDto.Ping)
            {
                frame = parsed;
                return FrameKind.Ping;
            }
            // JsonUtility fills a missing data object instead of leaving it null: an event without a type is no event.
            if (parsed.data == null || string.IsNullOrEmpty(parsed.data.type))
            {
                MalformedCount++;
                return FrameKind.Malformed;
            }
            if (!string.IsNullOrEmpty(parsed.id))
            {
                if (!IsNew(parsed.id))
                {
                    DuplicateCount++;
                    return FrameKind.Duplicate;
                }
                ResumeId = parsed.id;
            }
            frame = parsed;
            return FrameKind.Event;
        }

        /// <summary>
        /// The connection closed with <paramref name="closeCode"/> (1006 when it dropped without a close frame).
        /// 4401, 4403 and 4404 give up (<see cref="Problem"/> says why); 4400 forgets the resume id the server refused and
        /// reconnects fresh (events already received are still dropped as duplicates); anything else reconnects
        /// after <paramref name="delayS"/>, which grows while connections keep failing before their first frame.
        /// </summary>
        public CloseVerdict Closed(int closeCode, out double delayS)
        {
            delayS = 0.0;
            switch (closeCode)
            {
                case CloseBadKey:
                    Problem = "the server refused the API key (close " + closeCode + ")";
                    return CloseVerdict.GiveUp;
                case CloseForbidden:
                    Problem = "the API key may not read this session (close " + closeCode + ")";
                    return CloseVerdict.GiveUp;
                case CloseUnknownSession:
                    Problem = "no session " + SessionId + " for this key (close " + closeCode + ")";
                    return CloseVerdict.GiveUp;
                case CloseBadResumeId:
                    ResumeId = "";
                    break;
            }
            delayS = Backoff.NextDelayS();
            return CloseVerdict.Reconnect;
        }

        SessionFrameDto Decode(string text)
        {
            if (string.IsNullOrEmpty(text)) return null;
            try
            {
                return _decode(text);
            }
            catch (Exception) // the decoder's own kind (ArgumentException, SerializationException, ...): not a frame
            {
                return null;
            }
        }

        // Ids increase strictly within a session; an id of another shape is checked against those recently seen.
        bool IsNew(string id)
        {
            StreamId parsed;
            if (!StreamId.TryParse(id, out parsed)) return _otherIds.Add(id);
            if (_hasNewest && !parsed.IsAfter(_newest)) return false;
            _newest = parsed;
            _hasNewest = true;
            return true;
        }
    }
}
