// pktflood: sends minimum-size Ethernet frames as fast as one core can, over an AF_PACKET socket
// with sendmmsg batches, for bench/port-dpdk.ts (the rx side of a DPDK port on the other end of a
// veth). Frames are UDP/IPv4 from 198.18.0.1 to 198.18.0.2 with a valid IPv4 header checksum.
// Build: cc -O2 -o pktflood pktflood.c   Run: pktflood <iface> <dst-mac> <seconds>
// Prints one line: frames=<n> seconds=<s>
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: pktflood <iface> <dst-mac aa:bb:cc:dd:ee:ff> <seconds>\n");
    return 2;
  }
  unsigned m[6];
  if (sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
    fprintf(stderr, "pktflood: bad MAC '%s'\n", argv[2]);
    return 2;
  }
  double secs = atof(argv[3]);
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  struct sockaddr_ll sll = {0};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = (int)if_nametoindex(argv[1]);
  sll.sll_halen = 6;
  if (sll.sll_ifindex == 0) {
    perror("if_nametoindex");
    return 1;
  }
  unsigned char f[60] = {0};
  for (int i = 0; i < 6; i++) f[i] = (unsigned char)m[i];
  f[6] = 0x02;  // locally administered source
  f[12] = 0x08;
  f[13] = 0x00;
  unsigned char* ip = f + 14;
  ip[0] = 0x45;
  ip[3] = 46;  // total length: 20 + 8 + 18
  ip[8] = 64;
  ip[9] = 17;
  ip[12] = 198, ip[13] = 18, ip[14] = 0, ip[15] = 1;
  ip[16] = 198, ip[17] = 18, ip[18] = 0, ip[19] = 2;
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  ip[10] = (unsigned char)(~sum >> 8);
  ip[11] = (unsigned char)(~sum & 0xff);
  unsigned char* udp = ip + 20;
  udp[0] = 0x30, udp[1] = 0x39, udp[2] = 0x00, udp[3] = 0x09, udp[5] = 26;
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = f;
    iov[i].iov_len = sizeof f;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &sll;
    msgs[i].msg_hdr.msg_namelen = sizeof sll;
  }
  unsigned long long sent = 0;
  double start = now(), end = start + secs;
  while (now() < end) {
    int n = sendmmsg(fd, msgs, BATCH, 0);
    if (n > 0) sent += (unsigned)n;
  }
  printf("frames=%llu seconds=%.3f\n", sent, now() - start);
  return 0;
}
