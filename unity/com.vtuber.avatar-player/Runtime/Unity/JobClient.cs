using System;
using System.Collections;
using System.Collections.Generic;
using System.Text;
using UnityEngine;
using UnityEngine.Networking;
using VTuber.Animation;
using VTuber.Animation.Wire;

namespace VTuber.AvatarPlayer
{
    /// <summary>
    /// Talks to the backend's HTTP API: opens a session, sends a viewer's text, and follows the resulting job,
    /// handing over each segment (WAV audio + animation track) as soon as it is ready. Coroutines, so it
    /// runs on any Unity version with UnityWebRequest and needs no async library.
    /// </summary>
    /// <remarks>
    /// Audio is fetched as WAV, the API's default: the <c>?format=ogg</c> copy is Ogg/Opus for browsers,
    /// which Unity's AudioType.OGGVORBIS does not decode.
    /// </remarks>
    [AddComponentMenu("VTuber/Job Client")]
    public sealed class JobClient : MonoBehaviour
    {
        [Tooltip("The API's base URL, e.g. http://localhost:8000")]
        [SerializeField] string baseUrl = "http://localhost:8000";

        [Tooltip("The API key (python -m tools.cli keys create --name unity); sent as a bearer token.")]
        [SerializeField] string apiKey = "";

        [Tooltip("Follow jobs by their event stream (SSE). Off: long-poll only.")]
        [SerializeField] bool useEventStream = true;

        [Tooltip("An event stream silent this long is taken for dead (the server pings every 15 s).")]
        [SerializeField, Range(5, 120)] int streamSilenceSeconds = 40;

        [Tooltip("How long the server may hold a long-poll before answering that nothing changed.")]
        [SerializeField, Range(1, 30)] int longPollWaitSeconds = 25;

        [Tooltip("Pause before retrying after an error, and between polls of a server without long-poll.")]
        [SerializeField, Range(0.05f, 5f)] float pollIntervalSeconds = 0.25f;

        [SerializeField, Range(1, 120)] int requestTimeoutSeconds = 15;

        [Tooltip("Network failures in a row (polls or downloads) before giving up on a job.")]
        [SerializeField, Range(1, 100)] int maxConsecutiveErrors = 8;

        public string BaseUrl
        {
            get { return baseUrl; }
            set { baseUrl = value; }
        }

        public string ApiKey
        {
            get { return apiKey; }
            set { apiKey = value; }
        }

        /// <summary>Every request of this client carries the key: the API answers 401 without one.</summary>
        UnityWebRequest Authorized(UnityWebRequest request)
        {
            if (!string.IsNullOrEmpty(apiKey)) request.SetRequestHeader("Authorization", "Bearer " + apiKey);
            return request;
        }

        /// <summary>POST /v1/sessions. An empty <paramref name="persona"/> means the server's default persona.</summary>
        public IEnumerator CreateSession(string persona, Action<SessionDto> done, Action<string> failed)
        {
            string body = JsonUtility.ToJson(new SessionCreateDto { persona = persona ?? "" });
            using (UnityWebRequest request = PostJson(ApiUrl("/v1/sessions"), body))
            {
                yield return request.SendWebRequest();
                if (request.result != UnityWebRequest.Result.Success) failed(Describe(request));
                else done(JsonUtility.FromJson<SessionDto>(request.downloadHandler.text));
            }
        }

        /// <summary>POST /v1/sessions/{id}/utterances with the viewer's text; the job id comes back at once.</summary>
        public IEnumerator SubmitText(string sessionId, string text, Action<JobAcceptedDto> done, Action<string> failed)
        {
            string body = JsonUtility.ToJson(new TextUtteranceDto { text = text });
            string path = "/v1/sessions/" + Uri.EscapeDataString(sessionId) + "/utterances";
            using (UnityWebRequest request = PostJson(ApiUrl(path), body))
            {
                yield return request.SendWebRequest();
                if (request.result != UnityWebRequest.Result.Success) failed(Describe(request));
                else done(JsonUtility.FromJson<JobAcceptedDto>(request.downloadHandler.text));
            }
        }

        /// <summary>
        /// Follow a job until it ends: its event stream (<c>GET /v1/jobs/{id}/events</c>), or long-polls of
        /// <c>GET /v1/jobs/{id}</c> when the server has no stream or the stream breaks. Each segment's WAV is
        /// downloaded once, as soon as the audio is announced, and the segment is handed to
        /// <paramref name="segmentReady"/> (index, clip, track or null when the segment has none) once its track
        /// is there too. Segments may come out of order, which <see cref="SegmentQueue{T}"/> absorbs.
        /// <paramref name="restarted"/> is called when the backend restarted the reply after some segments were
        /// handed over: drop them (e.g. <c>VrmTrackPlayer.BeginTurn</c>), the new reply's come from index 0.
        /// Without it the player keeps what it was given and refuses those indices when they come again.
        /// <paramref name="finished"/> gets the job as followed and how many segments, from index 0 on, were
        /// handed over without a gap: the turn's length for the player. <paramref name="failed"/> is called
        /// instead when the network keeps failing.
        /// </summary>
        public IEnumerator FollowJob(
            string jobId,
            Action<int, AudioClip, AnimationTrack> segmentReady,
            Action<JobDto, int> finished,
            Action<string> failed,
            Action restarted = null)
        {
            var follow = new Follow(jobId, segmentReady, restarted);
            if (useEventStream) yield return FollowStream(follow);
            yield return FollowPolls(follow); // returns at once when the stream told everything
            while (follow.Problem == null && !follow.Turn.IsOver) yield return null; // the last downloads
            follow.Closed = true;
            if (follow.Problem != null) failed(follow.Problem);
            else finished(follow.Turn.Summary(), follow.Turn.PlayableCount);
        }

        /// <summary>One FollowJob call's state, shared with its download coroutines.</summary>
        sealed class Follow
        {
            public readonly string JobId;
            public readonly TurnState<AudioClip> Turn;
            public readonly SseParser Parser = new SseParser();
            public readonly Action<int, AudioClip, AnimationTrack> SegmentReady;
            public readonly Action Restarted;

            /// <summary>Network failures in a row, polls and downloads alike.</summary>
            public int Errors;

            /// <summary>Why the job is given up; null while all is well.</summary>
            public string Problem;

            /// <summary>FollowJob has returned: late downloads are thrown away.</summary>
            public bool Closed;

            public Follow(string jobId, Action<int, AudioClip, AnimationTrack> segmentReady, Action restarted)
            {
                JobId = jobId;
                Turn = new TurnState<AudioClip>(jobId);
                SegmentReady = segmentReady;
                Restarted = restarted;
            }

            /// <summary>The stream is done with: the job has ended, and nothing about its segments is missing.</summary>
            public bool Told
            {
                get { return Turn.IsOver || (Turn.IsFinal && Turn.KnowsEverySegment); }
            }
        }

        /// <summary>
        /// Read the event stream, reconnecting with Last-Event-ID after a connection that brought news (the server
        /// also closes long streams on purpose). A connection that brought nothing, or an answer that is not an
        /// event stream (an older server, an error), leaves the rest to <see cref="FollowPolls"/>.
        /// </summary>
        IEnumerator FollowStream(Follow follow)
        {
            while (follow.Problem == null && !follow.Turn.IsFinal)
            {
                bool progressed = false;
                yield return ReadStream(follow, p => progressed = p);
                if (!progressed || follow.Turn.IsFinal) yield break;
                int retryMs = follow.Parser.RetryMs;
                yield return new WaitForSecondsRealtime(retryMs >= 0 ? retryMs / 1000f : pollIntervalSeconds);
            }
        }

        IEnumerator ReadStream(Follow follow, Action<bool> done)
        {
            string url = ApiUrl("/v1/jobs/" + Uri.EscapeDataString(follow.JobId) + "/events");
            var handler = new EventStreamHandler(follow.Parser);
            var messages = new List<SseMessage>();
            bool progressed = false;
            using (var request = new UnityWebRequest(url, UnityWebRequest.kHttpVerbGET, handler, null))
            {
                // No timeout: the stream lasts the whole turn. A silent one is dropped below instead.
                Authorized(request);
                request.SetRequestHeader("Accept", "text/event-stream");
                if (follow.Parser.LastEventId.Length > 0) request.SetRequestHeader("Last-Event-ID", follow.Parser.LastEventId);
                UnityWebRequestAsyncOperation operation = request.SendWebRequest();
                bool? isStream = null;
                while (true)
                {
                    bool ended = operation.isDone; // read first: what arrived with the end is still taken below
                    if (isStream == null) isStream = IsEventStream(request);
                    if (isStream == false) break;
                    if (isStream == true)
                    {
                        handler.Take(messages);
                        progressed |= messages.Count > 0;
                        ApplyEvents(follow, messages);
                    }
                    if (ended || follow.Problem != null || follow.Turn.IsFinal) break;
                    if (Time.realtimeSinceStartup - handler.LastReceived > streamSilenceSeconds) break;
                    yield return null;
                }
                if (!operation.isDone) request.Abort();
            }
            follow.Parser.EndOfStream();
            done(progressed);
        }

        /// <summary>Null until the response headers are in.</summary>
        static bool? IsEventStream(UnityWebRequest request)
        {
            string type = request.GetResponseHeader("Content-Type");
            if (type == null) return request.isDone ? false : (bool?)null;
            return request.responseCode == 200 && type.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase);
        }

        void ApplyEvents(Follow follow, List<SseMessage> messages)
        {
            bool changed = false;
            foreach (SseMessage message in messages)
            {
                JobEventDto jobEvent;
                if (TryParse(message.Data, out jobEvent)) changed |= follow.Turn.Apply(jobEvent);
            }
            messages.Clear();
            if (changed) Pump(follow);
        }

        /// <summary>
        /// Long-poll GET /v1/jobs/{id}?wait=..&amp;since=version: the server answers as soon as the job changes.
        /// A server without versions answers at once; then it is polled every pollIntervalSeconds.
        /// </summary>
        IEnumerator FollowPolls(Follow follow)
        {
            while (follow.Problem == null && !follow.Told)
            {
                string url = ApiUrl("/v1/jobs/" + Uri.EscapeDataString(follow.JobId)) + "?wait=" + longPollWaitSeconds;
                if (!string.IsNullOrEmpty(follow.Turn.Version)) url += "&since=" + Uri.EscapeDataString(follow.Turn.Version);
                JobDto job = null;
                string problem = null;
                long status;
                using (UnityWebRequest request = Authorized(UnityWebRequest.Get(url)))
                {
                    request.timeout = requestTimeoutSeconds + longPollWaitSeconds;
                    yield return request.SendWebRequest();
                    if (request.result != UnityWebRequest.Result.Success) problem = Describe(request);
                    else if (!TryParse(request.downloadHandler.text, out job)) problem = "GET " + request.url + ": not a job";
                    status = request.responseCode;
                }
                if (problem != null)
                {
                    if (status == 404 || ++follow.Errors >= maxConsecutiveErrors) follow.Problem = problem;
                    else yield return new WaitForSeconds(pollIntervalSeconds);
                    continue;
                }
                follow.Errors = 0;
                if (follow.Turn.Apply(job)) Pump(follow);
                if (string.IsNullOrEmpty(job.version)) yield return new WaitForSeconds(pollIntervalSeconds);
            }
        }

        /// <summary>Act on the turn: tell of a restart, start the downloads it asks for, hand over what is playable.</summary>
        void Pump(Follow follow)
        {
            if (follow.Closed) return;
            if (follow.Turn.TakeRestart() && follow.Restarted != null) follow.Restarted();
            SegmentDownload download;
            while (follow.Turn.TryNextDownload(out download)) StartCoroutine(Download(follow, download));
            PlayableSegment<AudioClip> playable;
            while (follow.Turn.TryNextPlayable(out playable)) follow.SegmentReady(playable.Index, playable.Audio, playable.Track);
        }

        IEnumerator Download(Follow follow, SegmentDownload download)
        {
            AudioClip clip = null;
            string error = null;
            yield return DownloadWav(download.Index, download.Url, c => clip = c, e => error = e);
            if (clip != null)
            {
                follow.Errors = 0;
                // Audio of a reply that restarted meanwhile, or of a turn already over, is nobody's.
                if (follow.Closed || !follow.Turn.AudioArrived(download, clip)) Destroy(clip);
                else Pump(follow);
                yield break;
            }
            if (++follow.Errors >= maxConsecutiveErrors)
            {
                if (follow.Problem == null) follow.Problem = error;
                yield break;
            }
            yield return new WaitForSeconds(pollIntervalSeconds);
            follow.Turn.AudioFailed(download);
            Pump(follow);
        }

        IEnumerator DownloadWav(int index, string url, Action<AudioClip> done, Action<string> failed)
        {
            return DownloadAudio(url, "segment " + index, done, failed);
        }

        /// <summary>
        /// GET a segment's audio (<c>audio_url</c>, absolute or relative to <see cref="BaseUrl"/>) as a WAV clip named
        /// <paramref name="clipName"/>, with this client's key. <paramref name="failed"/> gets the API's error.
        /// </summary>
        public IEnumerator DownloadAudio(string url, string clipName, Action<AudioClip> done, Action<string> failed)
        {
            using (UnityWebRequest request = Authorized(UnityWebRequestMultimedia.GetAudioClip(ResolveUrl(url), AudioType.WAV)))
            {
                request.timeout = requestTimeoutSeconds;
                yield return request.SendWebRequest();
                if (request.result != UnityWebRequest.Result.Success)
                {
                    failed(Describe(request));
                    yield break;
                }
                AudioClip clip = DownloadHandlerAudioClip.GetContent(request);
                if (clip == null || clip.samples == 0)
                {
                    failed(clipName + ": the audio could not be decoded");
                    yield break;
                }
                clip.name = clipName;
                done(clip);
            }
        }

        /// <summary>
        /// POST /v1/jobs/{id}/cancel: interrupt a turn (barge-in). With <paramref name="segment"/> &gt;= 0 the server
        /// records what the listener heard: that segment, <paramref name="offsetS"/> seconds into its audio
        /// (<c>SessionAvatar.TryGetPlaybackPosition</c>); otherwise what was delivered counts as heard.
        /// </summary>
        public IEnumerator CancelJob(string jobId, int segment, double offsetS, Action done, Action<string> failed)
        {
            var body = new CancelRequestDto();
            if (segment >= 0) body.played = new PlaybackPositionDto { segment = segment, offset_s = Math.Max(0.0, offsetS) };
            string json = segment >= 0 ? JsonUtility.ToJson(body) : "{}"; // JsonUtility would send an empty "played"
            string path = "/v1/jobs/" + Uri.EscapeDataString(jobId) + "/cancel";
            using (UnityWebRequest request = PostJson(ApiUrl(path), json))
            {
                yield return request.SendWebRequest();
                if (request.result != UnityWebRequest.Result.Success) failed(Describe(request));
                else done();
            }
        }

        static bool TryParse<T>(string json, out T value) where T : class
        {
            try
            {
                value = JsonUtility.FromJson<T>(json);
            }
            catch (ArgumentException)
            {
                value = null;
            }
            return value != null;
        }

        string ApiUrl(string path)
        {
            return baseUrl.TrimEnd('/') + path;
        }

        /// <summary>The API returns absolute URLs when it knows its public base URL, root-relative ones otherwise.</summary>
        string ResolveUrl(string url)
        {
            Uri absolute;
            if (Uri.TryCreate(url, UriKind.Absolute, out absolute)) return absolute.AbsoluteUri;
            return new Uri(new Uri(baseUrl), url).AbsoluteUri;
        }

        UnityWebRequest PostJson(string url, string json)
        {
            var request = new UnityWebRequest(url, UnityWebRequest.kHttpVerbPOST)
            {
                uploadHandler = new UploadHandlerRaw(Encoding.UTF8.GetBytes(json)),
                downloadHandler = new DownloadHandlerBuffer(),
                timeout = requestTimeoutSeconds,
            };
            request.SetRequestHeader("Content-Type", "application/json");
            return Authorized(request);
        }

        /// <summary>The API's own error message when it sent one, the transport error otherwise.</summary>
        static string Describe(UnityWebRequest request)
        {
            // Only a buffer has text: an audio download handler refuses raw access.
            var buffer = request.downloadHandler as DownloadHandlerBuffer;
            string text = buffer != null ? buffer.text : null;
            ErrorResponseDto body;
            if (!string.IsNullOrEmpty(text) && text.TrimStart().StartsWith("{") && TryParse(text, out body))
            {
                if (body.error != null && !string.IsNullOrEmpty(body.error.message))
                    return request.method + " " + request.url + ": " + request.responseCode + " " + body.error.code + ": " + body.error.message;
            }
            return request.method + " " + request.url + ": " + (request.responseCode > 0 ? request.responseCode + " " : "") + request.error;
        }
    }
}
