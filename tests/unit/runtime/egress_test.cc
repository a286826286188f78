#include "runtime/egress.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace nubo::runtime {
namespace {

bool table_exists(const std::string& name) {
  struct nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc = nft_run_cmd_from_buffer(ctx, ("list table inet " + name).c_str());
  nft_ctx_free(ctx);
  return rc == 0;
}

// What an instance's namespace looks like once connected, seen from a thread inside it.
struct Inside {
  bool connected = false;
  std::string error;
  std::string address;
  bool has_eth0 = false;
  bool default_route = false;
  int node_connect_errno = 0;  // connecting to the node's end of the pair
};

Inside connect_from_new_namespace(Egress& egress, uint16_t node_port) {
  Inside out;
  std::thread t([&] {
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (unshare(CLONE_NEWNET) != 0) {
      out.error = "unshare";
      return;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {};
    std::strcpy(ifr.ifr_name, "lo");
    ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ioctl(s, SIOCSIFFLAGS, &ifr);
    close(s);
    auto lease = egress.connect(home);
    close(home);
    if (!lease.ok()) {
      out.error = lease.error().message;
      return;
    }
    out.connected = true;
    out.address = lease.value()->instance_address();
    out.has_eth0 = if_nametoindex("eth0") != 0;
    std::ifstream routes("/proc/thread-self/net/route");
    std::string line;
    while (std::getline(routes, line)) {
      if (line.rfind("eth0\t00000000\t", 0) == 0) out.default_route = true;
    }
    // The node's end of the pair is the instance's gateway: the address below its own.
    struct in_addr inst;
    inet_pton(AF_INET, out.address.c_str(), &inst);
    struct sockaddr_in node = {};
    node.sin_family = AF_INET;
    node.sin_port = htons(node_port);
    node.sin_addr.s_addr = htonl(ntohl(inst.s_addr) - 1);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {2, 0};
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(c, reinterpret_cast<struct sockaddr*>(&node), sizeof node) != 0) {
      out.node_connect_errno = errno;
    }
    close(c);
  });
  t.join();
  return out;
}

TEST(EgressTest, ConnectsANamespaceThatCannotReachTheNodeAndCleansUp) {
  if (geteuid() != 0) GTEST_SKIP() << "egress needs root";
  auto started = Egress::start();
  if (!started.ok()) GTEST_SKIP() << "no egress here: " << started.error().message;
  std::shared_ptr<Egress> egress = std::move(started).value();
  std::string table = "nubo_b" + std::to_string(egress->block());
  EXPECT_TRUE(table_exists(table));
  EXPECT_EQ(egress->subnet().rfind("10.213.", 0), 0u) << egress->subnet();

  // A service of the node's, listening on every address.
  int srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in any = {};
  any.sin_family = AF_INET;
  ASSERT_EQ(bind(srv, reinterpret_cast<struct sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(listen(srv, 4), 0);
  socklen_t len = sizeof any;
  getsockname(srv, reinterpret_cast<struct sockaddr*>(&any), &len);

  Inside in = connect_from_new_namespace(*egress, ntohs(any.sin_port));
  ASSERT_TRUE(in.connected) << in.error;
  EXPECT_TRUE(in.has_eth0);
  EXPECT_TRUE(in.default_route);
  EXPECT_EQ(in.address.rfind("10.213.", 0), 0u) << in.address;
  // Rejected by the node's input guard, not accepted, not left to time out.
  EXPECT_EQ(in.node_connect_errno, ECONNREFUSED);
  close(srv);

  // The namespace is gone with its thread: so is the node's end of its pair, and its /31 is
  // free again (a second connect works).
  Inside again = connect_from_new_namespace(*egress, 9);
  EXPECT_TRUE(again.connected) << again.error;

  // A second node on the machine takes another block.
  auto other = Egress::start();
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_NE(other.value()->block(), egress->block());
  other.value().reset();

  egress.reset();
  EXPECT_FALSE(table_exists(table));
}

}  // namespace
}  // namespace nubo::runtime
