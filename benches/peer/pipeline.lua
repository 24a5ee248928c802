-- wrk: each connection sends 16 requests at once and waits for the 16 answers
-- (benches/directory_vs_hyper.sh, the "16 pipelined" shape).
init = function(args)
   local requests = {}
   for i = 1, 16 do
      requests[i] = wrk.format("GET", "/users/" .. i)
   end
   batch = table.concat(requests)
end

request = function()
   return batch
end
