// Times every non-reference oneDNN implementation of the whole-network benchmark's ODConv layer shapes as static
// convolutions (SiLU post-op, batch 1, NHWC, nChw8c and NCHW sources), to see whether oneDNN's first choice is
// its fastest on this CPU. Build and run (README.md beside it):
//   D=target/dnnl/org/bytedeco/dnnl/linux-x86_64
//   g++ -O2 -std=c++17 -I$D/include onednn_impls.cpp -o /tmp/impls -L$D -l:libdnnl.so.3 -Wl,-rpath,$D
//   OMP_NUM_THREADS=2 /tmp/impls
#include "oneapi/dnnl/dnnl.hpp"
#include <chrono>
#include <cstdio>
#include <vector>
#include <algorithm>
#include <string>
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
struct Shape { const char* name; int ic, oc, k, s, g, hw; };
int main() {
  engine eng(engine::kind::cpu, 0); stream st(eng);
  Shape shapes[] = {{"down1",32,64,3,2,1,80},{"st1cv2",64,64,3,1,2,40},{"down2",64,128,3,2,1,40},
                    {"st2cv2dw",128,128,3,1,128,20},{"down3",128,256,3,2,1,20},{"reduce",256,128,1,1,1,5},{"fuse",256,128,1,1,1,10},
                    {"st1cv2_320",64,64,3,1,2,80},{"st2cv2dw_320",128,128,3,1,128,40}};
  for (auto &sh : shapes) {
    int pad = sh.k/2; int oh = (sh.hw + 2*pad - sh.k)/sh.s + 1;
    for (tag stag : {tag::nhwc, tag::nChw8c, tag::nchw}) {
      memory::desc src({1, sh.ic, sh.hw, sh.hw}, dt::f32, stag);
      memory::desc dst({1, sh.oc, oh, oh}, dt::f32, stag);
      memory::dims wd = sh.g == 1 ? memory::dims{sh.oc, sh.ic, sh.k, sh.k} : memory::dims{sh.g, sh.oc/sh.g, sh.ic/sh.g, sh.k, sh.k};
      memory::desc wei(wd, dt::f32, tag::any);
      memory::desc bia({sh.oc}, dt::f32, tag::x);
      post_ops po; po.append_eltwise(algorithm::eltwise_swish, 1.f, 0.f);
      primitive_attr attr; attr.set_post_ops(po); attr.set_scratchpad_mode(scratchpad_mode::user);
      convolution_forward::primitive_desc pd(eng, prop_kind::forward_inference, algorithm::convolution_direct,
          src, wei, bia, dst, {sh.s, sh.s}, {pad, pad}, {pad, pad}, attr);
      do {
        std::string impl = pd.impl_info_str(); if (impl.find("ref") != std::string::npos) continue;
        memory s(pd.src_desc(), eng), w(pd.weights_desc(), eng), b(bia, eng), d(pd.dst_desc(), eng), sp(pd.scratchpad_desc(), eng);
        std::fill((float*)s.get_data_handle(), (float*)s.get_data_handle() + pd.src_desc().get_size()/4, 0.5f);
        std::fill((float*)w.get_data_handle(), (float*)w.get_data_handle() + pd.weights_desc().get_size()/4, 0.01f);
        convolution_forward conv(pd);
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC,s},{DNNL_ARG_WEIGHTS,w},{DNNL_ARG_BIAS,b},{DNNL_ARG_DST,d},{DNNL_ARG_SCRATCHPAD,sp}};
        for (int i=0;i<20;i++) conv.execute(st,args); st.wait();
        std::vector<double> t;
        for (int r=0;r<15;r++){ auto a=std::chrono::steady_clock::now(); for(int i=0;i<20;i++) conv.execute(st,args); st.wait();
          t.push_back(std::chrono::duration<double,std::micro>(std::chrono::steady_clock::now()-a).count()/20);} 
        std::sort(t.begin(),t.end());
        printf("%-10s src=%-6s %-28s %8.1f us\n", sh.name, stag==tag::nhwc?"nhwc":stag==tag::nchw?"nchw":"8c", impl.c_str(), t[7]);
      } while (pd.next_impl());
    }
  }
}
