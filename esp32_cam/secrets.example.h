// Copy this file to secrets.h (git-ignored) and fill in your network.
// The sketch does not compile without secrets.h, so credentials never end up in git.
#pragma once

#define WIFI_SSID     "your-network"
#define WIFI_PASSWORD "your-password"

// mDNS name: the camera answers as http://<name>.local:81/stream
#define CAMERA_HOSTNAME "esp32cam"

// Optional: an NTP server on the gallery network. With a synchronised clock the camera
// stamps every frame with epoch time in X-Timestamp; without one it sends seconds since
// boot, which Affectra Edge anchors to the arrival time instead.
#define NTP_SERVER "pool.ntp.org"
