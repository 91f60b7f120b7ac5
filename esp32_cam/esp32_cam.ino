// Affectra Edge — ESP32-CAM firmware (AI-Thinker ESP32-CAM, OV2640).
//
// Serves the same MJPEG wire format as Espressif's CameraWebServer example, so Affectra Edge
// can read this sketch and the stock one alike:
//   port 81  /stream   multipart/x-mixed-replace;boundary=123456789000000000000987654321
//                      each frame: "\r\n--<boundary>\r\n", part headers
//                      (Content-Type, Content-Length, X-Timestamp: <sec>.<usec>), JPEG;
//                      chunked transfer encoding (esp_http_server)
//   port 80  /capture  one JPEG
//            /status   JSON: resolution, quality, uptime, RSSI, clients, hostname
//            /control?framesize=VGA&quality=12   change resolution / JPEG quality
// The stream has its own server on port 81 (as in the stock sketch) because a stream
// handler never returns and would otherwise block /status and /capture.
//
// Build: Arduino IDE or arduino-cli with the "esp32" core (Espressif, 2.x or 3.x), board
// "AI Thinker ESP32-CAM", partition scheme "Huge APP", PSRAM enabled. See docs/cameras.md.

#include <Arduino.h>
#include <ESPmDNS.h>
#include <WiFi.h>
#include <sys/time.h>
#include <time.h>

#include "esp_camera.h"
#include "esp_http_server.h"
#include "esp_timer.h"

#if __has_include("secrets.h")
#include "secrets.h"
#else
#error "copy secrets.example.h to secrets.h and set WIFI_SSID / WIFI_PASSWORD"
#endif

#ifndef CAMERA_HOSTNAME
#define CAMERA_HOSTNAME "esp32cam"
#endif

#define FIRMWARE_VERSION "1.0.0"

// ---- AI-Thinker ESP32-CAM pin map ---------------------------------------------------------
#define PWDN_GPIO_NUM 32
#define RESET_GPIO_NUM -1
#define XCLK_GPIO_NUM 0
#define SIOD_GPIO_NUM 26
#define SIOC_GPIO_NUM 27
#define Y9_GPIO_NUM 35
#define Y8_GPIO_NUM 34
#define Y7_GPIO_NUM 39
#define Y6_GPIO_NUM 36
#define Y5_GPIO_NUM 21
#define Y4_GPIO_NUM 19
#define Y3_GPIO_NUM 18
#define Y2_GPIO_NUM 5
#define VSYNC_GPIO_NUM 25
#define HREF_GPIO_NUM 23
#define PCLK_GPIO_NUM 22
#define FLASH_LED_GPIO 4

// ---- stream wire format (identical to app_httpd.cpp) --------------------------------------
#define PART_BOUNDARY "123456789000000000000987654321"
static const char *_STREAM_CONTENT_TYPE = "multipart/x-mixed-replace;boundary=" PART_BOUNDARY;
static const char *_STREAM_BOUNDARY = "\r\n--" PART_BOUNDARY "\r\n";
static const char *_STREAM_PART =
    "Content-Type: image/jpeg\r\nContent-Length: %u\r\nX-Timestamp: %d.%06d\r\n\r\n";

// ---- settings (changed at run time through /control) --------------------------------------
// VGA (640x480) is what the appliance's detector wants; larger sizes cost frame rate.
static framesize_t g_framesize = FRAMESIZE_VGA;
static int g_quality = 12;  // OV2640 JPEG quality: 0 (best) .. 63 (worst); 10-15 is typical

static httpd_handle_t g_control_httpd = NULL;
static httpd_handle_t g_stream_httpd = NULL;
static volatile int g_stream_clients = 0;
static bool g_time_synced = false;

struct FrameSizeName {
  framesize_t size;
  const char *name;
  int width;
  int height;
};

static const FrameSizeName FRAME_SIZES[] = {
    {FRAMESIZE_QVGA, "QVGA", 320, 240}, {FRAMESIZE_CIF, "CIF", 400, 296},
    {FRAMESIZE_VGA, "VGA", 640, 480},   {FRAMESIZE_SVGA, "SVGA", 800, 600},
    {FRAMESIZE_XGA, "XGA", 1024, 768},  {FRAMESIZE_HD, "HD", 1280, 720},
    {FRAMESIZE_SXGA, "SXGA", 1280, 1024}, {FRAMESIZE_UXGA, "UXGA", 1600, 1200},
};
static const size_t FRAME_SIZE_COUNT = sizeof(FRAME_SIZES) / sizeof(FRAME_SIZES[0]);

static const FrameSizeName *frame_size_info(framesize_t size) {
  for (size_t i = 0; i < FRAME_SIZE_COUNT; i++) {
    if (FRAME_SIZES[i].size == size) return &FRAME_SIZES[i];
  }
  return &FRAME_SIZES[2];
}

// ---- camera --------------------------------------------------------------------------------
static bool camera_init() {
  camera_config_t config = {};
  config.ledc_channel = LEDC_CHANNEL_0;
  config.ledc_timer = LEDC_TIMER_0;
  config.pin_d0 = Y2_GPIO_NUM;
  config.pin_d1 = Y3_GPIO_NUM;
  config.pin_d2 = Y4_GPIO_NUM;
  config.pin_d3 = Y5_GPIO_NUM;
  config.pin_d4 = Y6_GPIO_NUM;
  config.pin_d5 = Y7_GPIO_NUM;
  config.pin_d6 = Y8_GPIO_NUM;
  config.pin_d7 = Y9_GPIO_NUM;
  config.pin_xclk = XCLK_GPIO_NUM;
  config.pin_pclk = PCLK_GPIO_NUM;
  config.pin_vsync = VSYNC_GPIO_NUM;
  config.pin_href = HREF_GPIO_NUM;
  config.pin_sccb_sda = SIOD_GPIO_NUM;
  config.pin_sccb_scl = SIOC_GPIO_NUM;
  config.pin_pwdn = PWDN_GPIO_NUM;
  config.pin_reset = RESET_GPIO_NUM;
  config.xclk_freq_hz = 20000000;
  config.pixel_format = PIXFORMAT_JPEG;  // the sensor encodes: no CPU JPEG work at all
  config.grab_mode = CAMERA_GRAB_LATEST;  // always the newest frame, never a stale one
  if (psramFound()) {
    // allocate for the largest size so /control can switch resolution without re-init
    config.frame_size = FRAMESIZE_UXGA;
    config.jpeg_quality = g_quality;
    config.fb_count = 2;
    config.fb_location = CAMERA_FB_IN_PSRAM;
  } else {
    config.frame_size = FRAMESIZE_SVGA;
    config.jpeg_quality = 12;
    config.fb_count = 1;
    config.fb_location = CAMERA_FB_IN_DRAM;
    config.grab_mode = CAMERA_GRAB_WHEN_EMPTY;
  }
  esp_err_t err = esp_camera_init(&config);
  if (err != ESP_OK) {
    Serial.printf("camera init failed: 0x%x\n", err);
    return false;
  }
  sensor_t *s = esp_camera_sensor_get();
  s->set_framesize(s, g_framesize);
  s->set_quality(s, g_quality);
  return true;
}

// ---- time ----------------------------------------------------------------------------------
// X-Timestamp is the capture time: epoch seconds once SNTP has synced, seconds since boot
// before that (which is all the stock sketch ever sends).
static void time_sync_start() {
#ifdef NTP_SERVER
  configTime(0, 0, NTP_SERVER);
#endif
}

static bool time_is_synced() {
  if (!g_time_synced) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    g_time_synced = tv.tv_sec > 1600000000;  // after September 2020: a real date
  }
  return g_time_synced;
}

// esp32-camera stamps frame buffers with esp_timer (microseconds since boot). Once SNTP has
// set the clock, shift that to epoch time with the current offset between the two clocks.
static void frame_time(const camera_fb_t *fb, int *sec, int *usec) {
  int64_t t = (int64_t)fb->timestamp.tv_sec * 1000000LL + fb->timestamp.tv_usec;
  if (time_is_synced()) {
    struct timeval now;
    gettimeofday(&now, NULL);
    t += ((int64_t)now.tv_sec * 1000000LL + now.tv_usec) - esp_timer_get_time();
  }
  *sec = (int)(t / 1000000LL);
  *usec = (int)(t % 1000000LL);
}

// ---- HTTP handlers -------------------------------------------------------------------------
static esp_err_t capture_handler(httpd_req_t *req) {
  camera_fb_t *fb = esp_camera_fb_get();
  if (!fb) {
    httpd_resp_send_500(req);
    return ESP_FAIL;
  }
  httpd_resp_set_type(req, "image/jpeg");
  httpd_resp_set_hdr(req, "Content-Disposition", "inline; filename=capture.jpg");
  httpd_resp_set_hdr(req, "Access-Control-Allow-Origin", "*");
  char ts[32];
  int sec, usec;
  frame_time(fb, &sec, &usec);
  snprintf(ts, sizeof(ts), "%d.%06d", sec, usec);
  httpd_resp_set_hdr(req, "X-Timestamp", ts);
  esp_err_t res = httpd_resp_send(req, (const char *)fb->buf, fb->len);
  esp_camera_fb_return(fb);
  return res;
}

static esp_err_t stream_handler(httpd_req_t *req) {
  char part_buf[128];
  esp_err_t res = httpd_resp_set_type(req, _STREAM_CONTENT_TYPE);
  if (res != ESP_OK) return res;
  httpd_resp_set_hdr(req, "Access-Control-Allow-Origin", "*");
  // esp_http_server runs one handler at a time per server: one stream client at a time
  // (the appliance); a second one waits until the first disconnects.
  g_stream_clients++;
  while (true) {
    camera_fb_t *fb = esp_camera_fb_get();
    if (!fb) {
      Serial.println("camera capture failed");
      res = ESP_FAIL;
      break;
    }
    // Order as in app_httpd.cpp: delimiter, part headers, JPEG — one chunk each.
    res = httpd_resp_send_chunk(req, _STREAM_BOUNDARY, strlen(_STREAM_BOUNDARY));
    if (res == ESP_OK) {
      int sec, usec;
      frame_time(fb, &sec, &usec);
      size_t hlen = snprintf(part_buf, sizeof(part_buf), _STREAM_PART, (unsigned)fb->len, sec, usec);
      res = httpd_resp_send_chunk(req, part_buf, hlen);
    }
    if (res == ESP_OK) {
      res = httpd_resp_send_chunk(req, (const char *)fb->buf, fb->len);
    }
    esp_camera_fb_return(fb);
    if (res != ESP_OK) break;  // the client went away
  }
  g_stream_clients--;
  return res;
}

static esp_err_t status_handler(httpd_req_t *req) {
  const FrameSizeName *fs = frame_size_info(g_framesize);
  char json[512];
  int n = snprintf(json, sizeof(json),
                   "{\"device\":\"esp32-cam\",\"firmware\":\"%s\",\"hostname\":\"%s\","
                   "\"ip\":\"%s\",\"framesize\":\"%s\",\"width\":%d,\"height\":%d,"
                   "\"quality\":%d,\"uptime_s\":%.1f,\"rssi\":%d,\"clients\":%d,"
                   "\"time_synced\":%s,\"psram\":%s,\"free_heap\":%u}",
                   FIRMWARE_VERSION, CAMERA_HOSTNAME, WiFi.localIP().toString().c_str(),
                   fs->name, fs->width, fs->height, g_quality, esp_timer_get_time() / 1e6,
                   (int)WiFi.RSSI(), (int)g_stream_clients, time_is_synced() ? "true" : "false",
                   psramFound() ? "true" : "false", (unsigned)ESP.getFreeHeap());
  httpd_resp_set_type(req, "application/json");
  httpd_resp_set_hdr(req, "Access-Control-Allow-Origin", "*");
  return httpd_resp_send(req, json, n);
}

static esp_err_t control_handler(httpd_req_t *req) {
  char query[128] = {0};
  char value[32] = {0};
  if (httpd_req_get_url_query_str(req, query, sizeof(query)) != ESP_OK) {
    httpd_resp_send_err(req, HTTPD_400_BAD_REQUEST, "expected ?framesize=VGA or ?quality=12");
    return ESP_FAIL;
  }
  sensor_t *s = esp_camera_sensor_get();
  if (httpd_query_key_value(query, "framesize", value, sizeof(value)) == ESP_OK) {
    bool found = false;
    for (size_t i = 0; i < FRAME_SIZE_COUNT; i++) {
      if (strcasecmp(value, FRAME_SIZES[i].name) == 0) {
        // without PSRAM the buffers were sized for SVGA at most
        if (!psramFound() && FRAME_SIZES[i].size > FRAMESIZE_SVGA) break;
        if (s->set_framesize(s, FRAME_SIZES[i].size) == 0) {
          g_framesize = FRAME_SIZES[i].size;
          found = true;
        }
        break;
      }
    }
    if (!found) {
      httpd_resp_send_err(req, HTTPD_400_BAD_REQUEST, "unknown or unsupported framesize");
      return ESP_FAIL;
    }
  }
  if (httpd_query_key_value(query, "quality", value, sizeof(value)) == ESP_OK) {
    int q = atoi(value);
    if (q < 4 || q > 63) {  // below 4 the OV2640 overflows its JPEG buffer
      httpd_resp_send_err(req, HTTPD_400_BAD_REQUEST, "quality must be 4..63");
      return ESP_FAIL;
    }
    s->set_quality(s, q);
    g_quality = q;
  }
  return status_handler(req);
}

static void start_servers() {
  httpd_config_t config = HTTPD_DEFAULT_CONFIG();
  config.server_port = 80;
  config.ctrl_port = 32768;
  config.max_uri_handlers = 8;
  httpd_uri_t capture_uri = {"/capture", HTTP_GET, capture_handler, NULL};
  httpd_uri_t status_uri = {"/status", HTTP_GET, status_handler, NULL};
  httpd_uri_t control_uri = {"/control", HTTP_GET, control_handler, NULL};
  if (httpd_start(&g_control_httpd, &config) == ESP_OK) {
    httpd_register_uri_handler(g_control_httpd, &capture_uri);
    httpd_register_uri_handler(g_control_httpd, &status_uri);
    httpd_register_uri_handler(g_control_httpd, &control_uri);
  }
  // The stream gets its own server (and task) on port 81, like the stock sketch.
  config.server_port = 81;
  config.ctrl_port = 32769;
  httpd_uri_t stream_uri = {"/stream", HTTP_GET, stream_handler, NULL};
  if (httpd_start(&g_stream_httpd, &config) == ESP_OK) {
    httpd_register_uri_handler(g_stream_httpd, &stream_uri);
  }
}

// ---- Wi-Fi ---------------------------------------------------------------------------------
static void wifi_connect() {
  WiFi.mode(WIFI_STA);
  WiFi.setHostname(CAMERA_HOSTNAME);
  WiFi.setSleep(false);          // modem sleep adds 100+ ms of latency and drops frames
  WiFi.setAutoReconnect(true);   // the driver reconnects after an AP reboot by itself
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  Serial.printf("connecting to %s", WIFI_SSID);
  for (int i = 0; i < 60 && WiFi.status() != WL_CONNECTED; i++) {
    delay(500);
    Serial.print(".");
  }
  Serial.println();
}

void setup() {
  Serial.begin(115200);
  pinMode(FLASH_LED_GPIO, OUTPUT);
  digitalWrite(FLASH_LED_GPIO, LOW);  // the flash LED stays off: no one wants a strobe
  if (!camera_init()) {
    // a loose ribbon cable: try again after a reboot rather than sit there dead
    delay(5000);
    ESP.restart();
  }
  wifi_connect();
  time_sync_start();
  if (MDNS.begin(CAMERA_HOSTNAME)) {
    MDNS.addService("http", "tcp", 80);
  }
  start_servers();
  Serial.printf("ready: http://%s.local:81/stream  (http://%s:81/stream)\n", CAMERA_HOSTNAME,
                WiFi.localIP().toString().c_str());
}

void loop() {
  // Belt and braces on top of setAutoReconnect(): if the link stays down for a minute
  // (an AP that forgot us, a changed channel), start over; if that fails for ten
  // minutes, reboot — the camera must come back without anyone touching it.
  static uint32_t down_since = 0;
  static uint32_t last_retry = 0;
  uint32_t now = millis();
  if (WiFi.status() == WL_CONNECTED) {
    down_since = 0;
  } else {
    if (down_since == 0) down_since = now;
    if (now - last_retry > 60000) {
      Serial.println("Wi-Fi down: reconnecting");
      WiFi.disconnect();
      WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
      last_retry = now;
    }
    if (now - down_since > 600000) {
      Serial.println("Wi-Fi down for 10 min: rebooting");
      ESP.restart();
    }
  }
  delay(1000);
}
