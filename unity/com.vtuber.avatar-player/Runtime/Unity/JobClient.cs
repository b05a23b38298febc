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

        [SerializeField, Range(0.05f, 5f)] float pollIntervalSeconds = 0.25f;
        [SerializeField, Range(1, 120)] int requestTimeoutSeconds = 15;

        [Tooltip("Network failures in a row (polls or downloads) before giving up on a job.")]
        [SerializeField, Range(1, 100)] int maxConsecutiveErrors = 8;

        public string BaseUrl
        {
            get { return baseUrl; }
            set { baseUrl = value; }
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
        /// Poll GET /v1/jobs/{id} until the job ends. Each ready segment is downloaded once and handed to
        /// <paramref name="segmentReady"/> (index, clip, track or null when the segment has none); segments may
        /// come out of order, which <see cref="SegmentQueue{T}"/> absorbs. <paramref name="finished"/> gets the
        /// final job and how many segments, from index 0 on, were handed over without a gap: the turn's length
        /// for the player. <paramref name="failed"/> is called instead when the network keeps failing.
        /// </summary>
        public IEnumerator FollowJob(
            string jobId,
            Action<int, AudioClip, AnimationTrack> segmentReady,
            Action<JobDto, int> finished,
            Action<string> failed)
        {
            var delivered = new HashSet<int>();
            int errors = 0;
            while (true)
            {
                JobDto job = null;
                using (UnityWebRequest request = UnityWebRequest.Get(ApiUrl("/v1/jobs/" + Uri.EscapeDataString(jobId))))
                {
                    request.timeout = requestTimeoutSeconds;
                    yield return request.SendWebRequest();
                    string problem = null;
                    if (request.result != UnityWebRequest.Result.Success) problem = Describe(request);
                    else if (!TryParse(request.downloadHandler.text, out job)) problem = "GET " + request.url + ": not a job";
                    if (problem != null && (request.responseCode == 404 || ++errors >= maxConsecutiveErrors))
                    {
                        failed(problem);
                        yield break;
                    }
                }

                bool missing = false;
                if (job != null && job.segments != null)
                {
                    errors = 0;
                    foreach (SegmentDto segment in job.segments)
                    {
                        if (delivered.Contains(segment.index)) continue;
                        if (!segment.ready || string.IsNullOrEmpty(segment.audio_url))
                        {
                            missing = true;
                            continue;
                        }
                        AudioClip clip = null;
                        string error = null;
                        yield return DownloadWav(segment, c => clip = c, e => error = e);
                        if (clip == null)
                        {
                            missing = true;
                            if (++errors >= maxConsecutiveErrors)
                            {
                                failed(error);
                                yield break;
                            }
                            continue;
                        }
                        delivered.Add(segment.index);
                        segmentReady(segment.index, clip, TrackOf(segment));
                    }
                }

                if (job != null && (job.status == JobDto.Failed || (job.status == JobDto.Completed && !missing)))
                {
                    finished(job, LeadingRun(delivered));
                    yield break;
                }
                yield return new WaitForSeconds(pollIntervalSeconds);
            }
        }

        IEnumerator DownloadWav(SegmentDto segment, Action<AudioClip> done, Action<string> failed)
        {
            using (UnityWebRequest request = UnityWebRequestMultimedia.GetAudioClip(ResolveUrl(segment.audio_url), AudioType.WAV))
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
                    failed("segment " + segment.index + ": the audio could not be decoded");
                    yield break;
                }
                clip.name = "segment " + segment.index;
                done(clip);
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

        static AnimationTrack TrackOf(SegmentDto segment)
        {
            return segment.animation != null && segment.animation.IsPresent ? segment.animation.ToTrack() : null;
        }

        static int LeadingRun(HashSet<int> delivered)
        {
            int count = 0;
            while (delivered.Contains(count)) count++;
            return count;
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
            return request;
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
