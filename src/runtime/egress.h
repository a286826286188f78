// Egress: outbound network for isolated instances (issue 3, "outbound traffic follows the
// function's network setting"). A function's network namespace has only loopback until the
// sandbox connects it: a veth pair, "eth0" inside with a default route, its peer on the node,
// routed and masqueraded (NAT) out of the node's own interfaces, as a Lambda function without a
// VPC reaches the internet through AWS's NAT.
//
// Addresses: each node holds one block of 10.213.0.0/16 (a /20, kBlockAddresses), found free by a
// lock file per block under /run/nubo (flock: a node killed with -9 frees its block), and gives
// each instance a /31 of it: the node's end is the even address, the instance's the odd one. The
// node's ends are named "nb<block>-<n>".
//
// Firewall (one nftables table per block, "inet nubo_b<block>": IPv4 and IPv6, made at start and
// deleted at stop; a table a dead node left is replaced): instance traffic is masqueraded out of
// any interface but the instances'; an instance cannot reach the node itself (input from its
// veth rejected, over IPv6 link-local addresses too: it reaches nubo's API on its own loopback),
// another instance, or link-local addresses (169.254.0.0/16: cloud metadata services); nothing
// from outside may open a connection to an instance (the node forwards, so a machine that routes
// 10.213.0.0/16 through it could otherwise). The node turns on IPv4 forwarding
// (net.ipv4.ip_forward), as Docker does, and leaves it on. Another firewall of the node that
// drops forwarded traffic (Docker's or ufw's FORWARD policy) still drops the instances'.
//
// Threads: connect() is called on a launching thread while it is inside the instance's new
// network namespace; everything is thread-safe (one mutex for the node's netlink socket and the
// address map).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace nubo::runtime {

class Egress : public std::enable_shared_from_this<Egress> {
 public:
  // 10.213.0.0/16 in blocks of 4,096 addresses (2,048 instances each): 16 nodes per machine.
  static constexpr uint32_t kBase = (10u << 24) | (213u << 16);
  static constexpr int kBlocks = 16;
  static constexpr uint32_t kBlockAddresses = 4096;

  // A connected instance's addresses; destroying it frees the /31 (the veth pair goes with the
  // instance's network namespace).
  class Lease {
   public:
    Lease(std::shared_ptr<Egress> owner, uint32_t slot) : owner_(std::move(owner)), slot_(slot) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    std::string instance_address() const;  // "10.213.x.y"

   private:
    std::shared_ptr<Egress> owner_;  // leases may outlive the sandbox that made them
    uint32_t slot_;
  };

  // Takes a free block, installs its nftables table and turns on forwarding. Errors name what is
  // missing (not root, no nf_tables, every block taken); the sandbox then runs functions without
  // outbound network and says why. lock_dir: where the block lock files are (/run/nubo).
  static Result<std::shared_ptr<Egress>> start(const std::string& lock_dir = "/run/nubo");
  ~Egress();  // deletes the table; leases must be gone
  Egress(const Egress&) = delete;
  Egress& operator=(const Egress&) = delete;

  // REQUIRES: the calling thread is in the instance's new network namespace (with loopback up),
  // and host_netns is a descriptor of the node's own. Makes the veth pair, its addresses and the
  // instance's default route. Errors: ServiceException.
  Result<std::unique_ptr<Lease>> connect(int host_netns);

  int block() const { return block_; }
  std::string subnet() const;  // "10.213.48.0/20"
  // For protections(): what instances reach and how.
  std::string describe() const;

 private:
  Egress(int block, int lock_fd, int netlink_fd);
  void release(uint32_t slot);

  const int block_;
  const int lock_fd_;
  const int netlink_fd_;  // NETLINK_ROUTE in the node's network namespace
  std::mutex mu_;
  std::vector<bool> used_;  // GUARDED_BY(mu_): by /31 slot
  uint32_t next_ = 0;       // GUARDED_BY(mu_): where the search for a free slot starts
  uint32_t seq_ = 1;        // GUARDED_BY(mu_): netlink sequence numbers on netlink_fd_
};

}  // namespace nubo::runtime
