Console.WriteLine("berth-runtime");
return 0;
